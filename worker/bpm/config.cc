#include "worker/bpm/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>

#include "common/fs.h"
#include "common/yaml/node.h"
#include "worker/bpm/paths.h"

namespace tarmac::bpm {
namespace {

using yaml::Entries;
using yaml::Fields;
using yaml::fields;
using yaml::Node;
using yaml::read_texts;
using yaml::where;

constexpr uint64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();

Status read_volumes(const Fields& f, std::string_view key, std::vector<Volume>& out) {
  return f.each(key, [&](const Node& item) -> Status {
    if (item.is_null()) return item.error("expected a volume with a path, got nothing");
    auto v = fields(item, {"path", "writable", "allow_executions", "mount_only", "shared"});
    if (!v) return std::move(v).error();
    Volume vol;
    vol.origin = item.origin();
    TARMAC_TRY(v->required("path", vol.path));
    TARMAC_TRY(v->flag("writable", vol.writable));
    TARMAC_TRY(v->flag("allow_executions", vol.allow_executions));
    TARMAC_TRY(v->flag("mount_only", vol.mount_only));
    TARMAC_TRY(v->flag("shared", vol.shared));
    out.push_back(std::move(vol));
    return {};
  });
}

Status read_env(const Fields& f, std::vector<std::pair<std::string, std::string>>& out) {
  const Node* env = f.get("env");
  if (!env) return {};
  auto entries = env->entries();
  if (!entries) return std::move(entries).error();
  for (const auto& [key, value] : *entries) {
    if (key.empty() || key.find('=') != std::string::npos)
      return value.error("expected a variable name without \"=\"");
    auto s = value.text();
    if (!s) return std::move(s).error();
    out.emplace_back(key, std::move(*s));
  }
  return {};
}

Status read_limits(const Node& n, Limits& out) {
  auto f = fields(n, {"memory", "open_files", "processes", "core_file_size"});
  if (!f) return std::move(f).error();
  if (const Node* m = f->get("memory")) {
    auto text = m->text();
    if (!text) return std::move(text).error();
    auto bytes = parse_size(*text);
    if (!bytes) return m->error(bytes.error().message());
    out.memory = *bytes;
  }
  TARMAC_TRY(f->count("open_files", kUint64Max, out.open_files));
  TARMAC_TRY(f->count("processes", kInt64Max, out.processes));
  TARMAC_TRY(f->count("core_file_size", kUint64Max, out.core_file_size));
  return {};
}

Status read_signal(const Fields& f, int& out) {
  const Node* n = f.get("shutdown_signal");
  if (!n) return {};
  auto s = n->text();
  if (!s) return std::move(s).error();
  if (*s == "TERM" || s->empty()) {
    out = SIGTERM;
  } else if (*s == "INT") {
    out = SIGINT;
  } else {
    return n->error("expected TERM or INT, got \"" + *s + "\"");
  }
  return {};
}

Status read_unsafe(const Node& n, Unsafe& out) {
  auto f = fields(n, {"privileged", "unrestricted_volumes", "host_pid_namespace"});
  if (!f) return std::move(f).error();
  TARMAC_TRY(f->flag("privileged", out.privileged));
  TARMAC_TRY(read_volumes(*f, "unrestricted_volumes", out.unrestricted_volumes));
  TARMAC_TRY(f->flag("host_pid_namespace", out.host_pid_namespace));
  return {};
}

// The name becomes part of file names (PROC.pid, PROC.stdout.log, bundles/JOB/PROC), so
// it must not climb out of those directories.
Status check_name(const Fields& f, const std::string& name) {
  if (name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    return f.get("name")->error("expected a name without \"/\", got \"" + name + "\"");
  return {};
}

Result<ProcessConfig> read_process(const Node& n) {
  if (n.is_null()) return n.error("expected a process, got nothing");
  auto f = fields(
      n, {"name", "executable", "args", "env", "workdir", "hooks", "capabilities", "limits",
          "ephemeral_disk", "persistent_disk", "additional_volumes", "shutdown_signal", "unsafe"});
  if (!f) return std::move(f).error();
  ProcessConfig p;
  TARMAC_TRY(f->required("name", p.name));
  TARMAC_TRY(check_name(*f, p.name));
  TARMAC_TRY(f->required("executable", p.executable));
  TARMAC_TRY(read_texts(*f, "args", p.args));
  TARMAC_TRY(read_env(*f, p.env));
  TARMAC_TRY(f->text("workdir", p.workdir));
  if (const Node* hooks = f->get("hooks")) {
    auto h = fields(*hooks, {"pre_start"});
    if (!h) return std::move(h).error();
    TARMAC_TRY(h->text("pre_start", p.pre_start));
  }
  TARMAC_TRY(f->each("capabilities", [&](const Node& item) -> Status {
    auto cap = item.text();
    if (!cap) return std::move(cap).error();
    if (cap->empty() || cap->starts_with("CAP_"))
      return item.error("expected a capability name without CAP_ (NET_ADMIN), got \"" + *cap +
                        "\"");
    p.capabilities.push_back(std::move(*cap));
    return {};
  }));
  if (const Node* limits = f->get("limits")) TARMAC_TRY(read_limits(*limits, p.limits));
  TARMAC_TRY(f->flag("ephemeral_disk", p.ephemeral_disk));
  TARMAC_TRY(f->flag("persistent_disk", p.persistent_disk));
  TARMAC_TRY(read_volumes(*f, "additional_volumes", p.additional_volumes));
  TARMAC_TRY(read_signal(*f, p.shutdown_signal));
  if (const Node* unsafe = f->get("unsafe")) TARMAC_TRY(read_unsafe(*unsafe, p.unsafe));
  return p;
}

Result<JobConfig> read_job(const Node& top) {
  if (top.is_null()) return top.error("empty file; expected a map with processes");
  auto f = fields(top, {"processes"});
  if (!f) return std::move(f).error();
  const Node* procs = f->find("processes");
  if (!procs) return top.error_at("processes", "required but missing");
  JobConfig job;
  std::vector<std::string> origins;  // of each process, for duplicate names
  TARMAC_TRY(f->each("processes", [&](const Node& item) -> Status {
    auto p = read_process(item);
    if (!p) return std::move(p).error();
    for (size_t i = 0; i < job.processes.size(); ++i)
      if (job.processes[i].name == p->name)
        return item.error_at(
            item.child_path("name"),
            "process \"" + p->name + "\" defined twice (first at " + origins[i] + ")");
    job.processes.push_back(std::move(*p));
    origins.push_back(item.origin());
    return {};
  }));
  if (job.processes.empty()) return procs->error("expected at least one process, got none");
  return job;
}

bool strictly_inside(const std::string& path, const std::string& root) {
  if (root == "/") return path.size() > 1 && path[0] == '/';
  return path.size() > root.size() + 1 && path.starts_with(root) && path[root.size()] == '/';
}

std::string volume_field(const Volume& v, size_t proc, std::string_view list, size_t index) {
  return (v.origin.empty() ? "" : v.origin + ": ") + "processes[" + std::to_string(proc) + "]." +
         std::string(list) + "[" + std::to_string(index) + "].path: ";
}

// The decimal number before a size's unit, times 2^shift, truncated as bpm's float
// arithmetic truncates but without its rounding; nullopt when it is not a number.
std::optional<unsigned __int128> scaled(std::string_view number, int shift) {
  size_t dot = number.find('.');
  std::string_view whole = number.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : number.substr(dot + 1);
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (whole.size() + frac.size() == 0 || !digits(whole) || !digits(frac)) return std::nullopt;
  unsigned __int128 value = 0;
  for (char c : whole) {
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > kInt64Max) return value << shift;  // too large whatever follows
  }
  value <<= shift;
  // Eighteen digits keep the product below 2^120; later ones cannot change whole bytes
  // except in contrived inputs.
  frac = frac.substr(0, 18);
  unsigned __int128 numerator = 0, denominator = 1;
  for (char c : frac) {
    numerator = numerator * 10 + static_cast<unsigned>(c - '0');
    denominator *= 10;
  }
  return value + (numerator << shift) / denominator;
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  const std::string shown_text = "\"" + std::string(text) + "\"";
  const Error bad("expected a size like 1G or 256M, got " + shown_text);
  std::string s;
  for (char c : text) s += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  size_t unit_at = s.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  std::string_view number = std::string_view(s).substr(0, unit_at);
  std::string unit = unit_at == std::string::npos ? "" : s.substr(unit_at);
  int shift = -1;
  if (unit.empty()) {
    if (number.find('.') == std::string_view::npos) shift = 0;  // bare bytes
  } else if (unit == "B") {
    shift = 0;
  } else if (unit.size() <= 3 &&
             (unit.size() == 1 || unit.substr(1) == "B" || unit.substr(1) == "IB")) {
    size_t i = std::string_view("KMGTPE").find(unit[0]);
    if (i != std::string_view::npos) shift = 10 * static_cast<int>(i + 1);
  }
  if (shift < 0) return bad;
  auto bytes = scaled(number, shift);
  if (!bytes) return bad;
  if (*bytes > kInt64Max) return Error(shown_text + " is too large (at most 8E - 1 bytes)");
  if (*bytes == 0) return Error("expected a size above zero, got " + shown_text);
  return static_cast<uint64_t>(*bytes);
}

Result<JobConfig> parse_job_config(std::string_view yaml, const std::string& filename) {
  // yaml-cpp throws, while loading and while reading; nothing of it leaves this function.
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    return read_job(Node(filename, root, "", std::max(root.Mark().line, 0)));
  } catch (const YAML::Exception& e) {
    return Error(where(filename, e.mark.line) + ": invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Error(filename + ": " + e.what());
  }
}

Result<JobConfig> load_job_config(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text) return std::move(text).error();
  return parse_job_config(*text, path);
}

Status validate(const JobConfig& config, const std::string& job, const std::string& bosh_root) {
  const BoshPaths paths(bosh_root);
  for (size_t i = 0; i < config.processes.size(); ++i) {
    const ProcessConfig& p = config.processes[i];
    for (size_t j = 0; j < p.additional_volumes.size(); ++j) {
      const Volume& v = p.additional_volumes[j];
      const std::string field = volume_field(v, i, "additional_volumes", j);
      const std::string clean = clean_path(v.path);
      if (clean != v.path)
        return Error(field + "volume path must be canonical, expected " + clean + " but got \"" +
                     v.path + "\"");
      if (v.path == paths.data_dir(job) || v.path == paths.store_dir(job))
        return Error(field + "invalid volume path: " + v.path +
                     " cannot conflict with default job data or store directories");
      if (!strictly_inside(v.path, paths.root()))
        return Error(field + "invalid volume path: " + v.path + " must be within " + paths.root());
    }
    for (size_t j = 0; j < p.unsafe.unrestricted_volumes.size(); ++j) {
      const Volume& v = p.unsafe.unrestricted_volumes[j];
      if (!v.path.starts_with("/"))
        return Error(volume_field(v, i, "unsafe.unrestricted_volumes", j) +
                     "expected an absolute path or glob, got \"" + v.path + "\"");
    }
  }
  return {};
}

}  // namespace tarmac::bpm
