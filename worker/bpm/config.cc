#include "worker/bpm/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <functional>
#include <map>

#include "common/fs.h"

namespace tarmac::bpm {
namespace {

// TARMAC_RETURN_IF_ERROR wraps with a context; these errors already carry theirs.
#define RETURN_IF_ERROR(expr)                                     \
  do {                                                            \
    if (auto s_ = (expr); !s_.ok()) return std::move(s_).error(); \
  } while (0)

// Walks one YAML node with its key path, so every error says where it is. yaml-cpp throws;
// its exceptions end here.
class Reader {
 public:
  Reader(const std::string& file, YAML::Node node, std::string path)
      : file_(file), node_(std::move(node)), path_(std::move(path)) {}

  Error error(const std::string& what) const {
    int line = node_.Mark().line + 1;
    std::string where = file_ + ":" + std::to_string(line > 0 ? line : 1) + ": ";
    return Error(where + (path_.empty() ? "" : path_ + ": ") + what);
  }

  bool is_map() const { return node_.IsMap(); }
  bool is_null() const { return !node_ || node_.IsNull(); }

  Status expect_map(std::initializer_list<const char*> known) const {
    if (!node_.IsMap()) return error("expected a map, got " + kind());
    for (const auto& kv : node_) {
      std::string key = kv.first.Scalar();
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok) {
        Reader at(file_, kv.first, child_path(key));
        std::string allowed;
        for (const char* k : known) allowed += std::string(allowed.empty() ? "" : ", ") + k;
        return at.error("unknown key; expected one of " + allowed);
      }
    }
    return {};
  }

  std::optional<Reader> get(const char* key) const {
    YAML::Node child = node_[key];
    if (!child || child.IsNull()) return std::nullopt;
    return Reader(file_, child, child_path(key));
  }

  Result<std::string> string() const {
    if (!node_.IsScalar()) return error("expected a string, got " + kind());
    return node_.Scalar();
  }

  Result<bool> boolean() const {
    bool v;
    if (!node_.IsScalar() || !YAML::convert<bool>::decode(node_, v))
      return error("expected true or false, got " + shown());
    return v;
  }

  Result<uint64_t> count() const {
    std::string s = node_.IsScalar() ? node_.Scalar() : "";
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c); }) ||
        s.size() > 19)
      return error("expected a non-negative whole number, got " + shown());
    return std::stoull(s);
  }

  Status each(const std::function<Status(const Reader&)>& fn) const {
    if (!node_.IsSequence()) return error("expected a list, got " + kind());
    for (size_t i = 0; i < node_.size(); ++i) {
      Reader item(file_, node_[i], path_ + "[" + std::to_string(i) + "]");
      RETURN_IF_ERROR(fn(item));
    }
    return {};
  }

  Status each_pair(const std::function<Status(const std::string&, const Reader&)>& fn) const {
    if (!node_.IsMap()) return error("expected a map, got " + kind());
    for (const auto& kv : node_) {
      std::string key = kv.first.Scalar();
      RETURN_IF_ERROR(fn(key, Reader(file_, kv.second, child_path(key))));
    }
    return {};
  }

  std::string shown() const { return node_.IsScalar() ? "\"" + node_.Scalar() + "\"" : kind(); }

 private:
  std::string kind() const {
    if (node_.IsMap()) return "a map";
    if (node_.IsSequence()) return "a list";
    if (node_.IsNull()) return "nothing";
    return "\"" + node_.Scalar() + "\"";
  }
  std::string child_path(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  const std::string& file_;
  YAML::Node node_;
  std::string path_;
};

template <typename T>
Status assign(const Reader& r, const char* key, T& out, Result<T> (Reader::*read)() const) {
  auto child = r.get(key);
  if (!child) return {};
  auto v = ((*child).*read)();
  if (!v) return std::move(v).error();
  out = *v;
  return {};
}

Status read_strings(const Reader& r, const char* key, std::vector<std::string>& out) {
  auto child = r.get(key);
  if (!child) return {};
  return child->each([&](const Reader& item) -> Status {
    auto s = item.string();
    if (!s) return std::move(s).error();
    out.push_back(*s);
    return {};
  });
}

Status read_volumes(const Reader& r, const char* key, std::vector<Volume>& out) {
  auto child = r.get(key);
  if (!child) return {};
  return child->each([&](const Reader& item) -> Status {
    RETURN_IF_ERROR(
        item.expect_map({"path", "writable", "allow_executions", "mount_only", "shared"}));
    Volume v;
    RETURN_IF_ERROR(assign(item, "path", v.path, &Reader::string));
    if (v.path.empty()) return item.error("path is required");
    RETURN_IF_ERROR(assign(item, "writable", v.writable, &Reader::boolean));
    RETURN_IF_ERROR(assign(item, "allow_executions", v.allow_executions, &Reader::boolean));
    RETURN_IF_ERROR(assign(item, "mount_only", v.mount_only, &Reader::boolean));
    RETURN_IF_ERROR(assign(item, "shared", v.shared, &Reader::boolean));
    out.push_back(v);
    return {};
  });
}

Status read_limits(const Reader& r, Limits& l) {
  RETURN_IF_ERROR(r.expect_map({"memory", "open_files", "processes", "core_file_size"}));
  if (auto m = r.get("memory")) {
    auto text = m->string();
    if (!text) return std::move(text).error();
    auto bytes = parse_size(*text);
    if (!bytes) return m->error("expected a size like 1G or 256M, got " + m->shown());
    l.memory = *bytes;
  }
  for (auto [key, field] :
       {std::pair{"open_files", &l.open_files}, std::pair{"processes", &l.processes},
        std::pair{"core_file_size", &l.core_file_size}}) {
    if (auto c = r.get(key)) {
      auto n = c->count();
      if (!n) return std::move(n).error();
      *field = *n;
    }
  }
  return {};
}

Result<ProcessConfig> read_process(const Reader& r) {
  RETURN_IF_ERROR(r.expect_map({"name", "executable", "args", "env", "workdir", "hooks",
                                "capabilities", "limits", "ephemeral_disk", "persistent_disk",
                                "additional_volumes", "shutdown_signal", "unsafe"}));
  ProcessConfig p;
  RETURN_IF_ERROR(assign(r, "name", p.name, &Reader::string));
  if (p.name.empty()) return r.error("name is required");
  RETURN_IF_ERROR(assign(r, "executable", p.executable, &Reader::string));
  if (p.executable.empty()) return r.error("executable is required");
  RETURN_IF_ERROR(read_strings(r, "args", p.args));
  if (auto env = r.get("env")) {
    RETURN_IF_ERROR(env->each_pair([&](const std::string& k, const Reader& v) -> Status {
      auto s = v.string();
      if (!s) return std::move(s).error();
      p.env.emplace_back(k, *s);
      return {};
    }));
  }
  RETURN_IF_ERROR(assign(r, "workdir", p.workdir, &Reader::string));
  if (auto hooks = r.get("hooks")) {
    RETURN_IF_ERROR(hooks->expect_map({"pre_start"}));
    RETURN_IF_ERROR(assign(*hooks, "pre_start", p.pre_start, &Reader::string));
  }
  RETURN_IF_ERROR(read_strings(r, "capabilities", p.capabilities));
  if (auto limits = r.get("limits")) RETURN_IF_ERROR(read_limits(*limits, p.limits));
  RETURN_IF_ERROR(assign(r, "ephemeral_disk", p.ephemeral_disk, &Reader::boolean));
  RETURN_IF_ERROR(assign(r, "persistent_disk", p.persistent_disk, &Reader::boolean));
  RETURN_IF_ERROR(read_volumes(r, "additional_volumes", p.additional_volumes));
  if (auto sig = r.get("shutdown_signal")) {
    auto s = sig->string();
    if (!s) return std::move(s).error();
    if (*s == "TERM") {
      p.shutdown_signal = SIGTERM;
    } else if (*s == "INT") {
      p.shutdown_signal = SIGINT;
    } else {
      return sig->error("expected TERM or INT, got " + sig->shown());
    }
  }
  if (auto unsafe = r.get("unsafe")) {
    RETURN_IF_ERROR(
        unsafe->expect_map({"privileged", "unrestricted_volumes", "host_pid_namespace"}));
    RETURN_IF_ERROR(assign(*unsafe, "privileged", p.unsafe.privileged, &Reader::boolean));
    RETURN_IF_ERROR(
        assign(*unsafe, "host_pid_namespace", p.unsafe.host_pid_namespace, &Reader::boolean));
    RETURN_IF_ERROR(read_volumes(*unsafe, "unrestricted_volumes", p.unsafe.unrestricted_volumes));
  }
  return p;
}

bool canonical(const std::string& p) {
  if (p.empty() || p[0] != '/' || (p.size() > 1 && p.back() == '/')) return false;
  if (p.find("//") != std::string::npos) return false;
  for (const char* bad : {"/./", "/../"})
    if ((p + "/").find(bad) != std::string::npos) return false;
  return true;
}

}  // namespace

Result<uint64_t> parse_size(const std::string& text) {
  std::string s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0 || digits > 15) return Error("expected a size like 1G or 256M");
  uint64_t n = std::stoull(s.substr(0, digits));
  std::string unit = s.substr(digits);
  for (char& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::map<std::string, int> shift = {
      {"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KIB", 10}, {"M", 20},  {"MB", 20},
      {"MIB", 20}, {"G", 30}, {"GB", 30}, {"GIB", 30}, {"T", 40},   {"TB", 40}, {"TIB", 40}};
  auto it = shift.find(unit);
  if (it == shift.end()) return Error("expected a size like 1G or 256M");
  if (n > (UINT64_MAX >> it->second)) return Error("size too large");
  return n << it->second;
}

Result<JobConfig> parse_job_config(std::string_view yaml, const std::string& filename) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return Error(filename + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  try {
    Reader top(filename, root, "");
    if (!root || root.IsNull()) return top.error("empty file; expected processes");
    RETURN_IF_ERROR(top.expect_map({"processes"}));
    auto procs = top.get("processes");
    if (!procs) return top.error("processes: expected at least one process");
    JobConfig job;
    RETURN_IF_ERROR(procs->each([&](const Reader& item) -> Status {
      auto p = read_process(item);
      if (!p) return std::move(p).error();
      for (const ProcessConfig& other : job.processes)
        if (other.name == p->name) return item.error("duplicate process name \"" + p->name + "\"");
      job.processes.push_back(std::move(*p));
      return {};
    }));
    if (job.processes.empty()) return procs->error("expected at least one process");
    return job;
  } catch (const YAML::Exception& e) {
    return Error(filename + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<JobConfig> load_job_config(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text) return std::move(text).error();
  return parse_job_config(*text, path);
}

Status validate(const JobConfig& config, const std::string& job, const std::string& bosh_root) {
  for (size_t i = 0; i < config.processes.size(); ++i) {
    const ProcessConfig& p = config.processes[i];
    for (size_t j = 0; j < p.additional_volumes.size(); ++j) {
      const std::string& path = p.additional_volumes[j].path;
      std::string field =
          "processes[" + std::to_string(i) + "].additional_volumes[" + std::to_string(j) + "].path";
      if (!canonical(path))
        return Error(field + ": volume path must be canonical, got \"" + path + "\"");
      if (path == bosh_root + "/data/" + job || path == bosh_root + "/store/" + job)
        return Error(field + ": invalid volume path: " + path +
                     " cannot conflict with default job data or store directories");
      if (path.rfind(bosh_root + "/", 0) != 0)
        return Error(field + ": invalid volume path: " + path + " must be within " + bosh_root);
    }
    for (size_t j = 0; j < p.unsafe.unrestricted_volumes.size(); ++j) {
      const std::string& path = p.unsafe.unrestricted_volumes[j].path;
      if (path.empty() || path[0] != '/')
        return Error("processes[" + std::to_string(i) + "].unsafe.unrestricted_volumes[" +
                     std::to_string(j) + "].path: expected an absolute path, got \"" + path + "\"");
    }
  }
  return {};
}

}  // namespace tarmac::bpm
