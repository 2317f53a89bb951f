#include "worker/bpm/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>

#include "common/fs.h"
#include "worker/bpm/paths.h"

namespace tarmac::bpm {
namespace {

// TARMAC_RETURN_IF_ERROR adds a context; these errors already say where they are.
#define BPM_TRY(expr)                                                               \
  do {                                                                              \
    if (auto bpm_try_ = (expr); !bpm_try_.ok()) return std::move(bpm_try_).error(); \
  } while (0)

constexpr uint64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();

std::string where(const std::string& file, int line) {
  return line < 0 ? file : file + ":" + std::to_string(line + 1);
}

// A value as a message shows it: scalars quoted (and cut short), others by kind.
std::string shown(const YAML::Node& n) {
  if (!n || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return "\"" + s + "\"";
}

// A string by its quotes or tag, which bpm's YAML library will not read as a bool or a number.
bool quoted(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str"; }

class Node;
using Entries = std::vector<std::pair<std::string, Node>>;

// One value of the document with its key path and line, so that every error can say where
// it is. A map's value is placed at its key: a block value's own mark is the line after
// the key, and yaml-cpp gives an implicit null the mark of whatever follows it.
class Node {
 public:
  Node(const std::string& file, YAML::Node node, std::string path, int line)
      : file_(&file), node_(std::move(node)), path_(std::move(path)), line_(line) {}

  bool is_null() const { return !node_ || node_.IsNull(); }
  std::string origin() const { return where(*file_, line_); }

  Error error(std::string_view what) const { return error_at(path_, what); }
  Error error_at(std::string_view path, std::string_view what) const {
    std::string msg = origin() + ": ";
    if (!path.empty()) msg += std::string(path) + ": ";
    return Error(msg + std::string(what));
  }
  std::string child_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // A string; null reads as "", as bpm's YAML library reads it into a string.
  Result<std::string> text() const {
    if (is_null()) return std::string();
    if (!node_.IsScalar()) return error("expected a string, got " + shown(node_));
    return node_.Scalar();
  }

  // A plain true/false (yes/no and on/off too, as YAML 1.1 and bpm allow); a quoted
  // "true" is a string, which bpm refuses as well.
  Result<bool> flag() const {
    bool value = false;
    if (!node_.IsScalar() || quoted(node_) || !YAML::convert<bool>::decode(node_, value))
      return error("expected true or false, got " + shown(node_));
    return value;
  }

  Result<uint64_t> count(uint64_t max) const {
    const std::string s = node_.IsScalar() && !quoted(node_) ? node_.Scalar() : "";
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return error("expected a non-negative whole number, got " + shown(node_));
    uint64_t n = 0;
    for (char c : s) {
      uint64_t digit = static_cast<uint64_t>(c - '0');
      if (n > (max - digit) / 10)
        return error(shown(node_) + " is too large (at most " + std::to_string(max) + ")");
      n = n * 10 + digit;
    }
    return n;
  }

  Result<std::vector<Node>> items() const {
    if (!node_.IsSequence()) return error("expected a list, got " + shown(node_));
    std::vector<Node> out;
    for (size_t i = 0; i < node_.size(); ++i) {
      YAML::Node item = node_[i];
      int line = item.IsNull() || item.Mark().line < 0 ? line_ : item.Mark().line;
      out.emplace_back(*file_, item, path_ + "[" + std::to_string(i) + "]", line);
    }
    return out;
  }

  // The entries of a map, in file order. With `known`, any other key is refused. A key
  // given twice is refused (bpm's YAML library does the same); "<<" merge keys are
  // followed, the map's own entries winning over merged ones.
  Result<Entries> entries(std::initializer_list<std::string_view> known = {}) const {
    if (!node_.IsMap()) return error("expected a map, got " + shown(node_));
    Entries out;
    BPM_TRY(collect(node_, known, 0, out));
    return out;
  }

 private:
  // `depth` counts the merges followed: 0 is the map's own entries. An alias can make a map
  // merge itself, so the depth is bounded.
  Status collect(const YAML::Node& map, std::initializer_list<std::string_view> known, int depth,
                 Entries& out) const {
    if (depth > 8) return error("<<: merges nested too deeply (does a map merge itself?)");
    std::vector<YAML::Node> merges;
    for (const auto& kv : map) {
      int line = kv.first.Mark().line < 0 ? line_ : kv.first.Mark().line;
      if (!kv.first.IsScalar())
        return Node(*file_, kv.first, path_, line)
            .error("expected a string key, got " + shown(kv.first));
      const std::string& name = kv.first.Scalar();
      if (name == "<<" && !quoted(kv.first)) {
        merges.push_back(kv.second);
        continue;
      }
      Node value(*file_, kv.second, child_path(name), line);
      auto seen =
          std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == name; });
      if (seen != out.end()) {
        if (depth > 0) continue;
        return value.error("key given twice (first at " + seen->second.origin() + ")");
      }
      if (known.size() > 0 &&
          std::find(known.begin(), known.end(), std::string_view(name)) == known.end()) {
        std::string expected;
        for (std::string_view k : known)
          expected += (expected.empty() ? "" : ", ") + std::string(k);
        return value.error("unknown key; expected one of " + expected);
      }
      out.emplace_back(name, std::move(value));
    }
    for (const YAML::Node& merge : merges) {
      std::vector<YAML::Node> sources;
      if (merge.IsSequence()) {
        for (const auto& m : merge) sources.push_back(m);
      } else {
        sources.push_back(merge);
      }
      for (const YAML::Node& source : sources) {
        if (!source.IsMap()) return error("<<: expected a map to merge, got " + shown(source));
        BPM_TRY(collect(source, known, depth + 1, out));
      }
    }
    return {};
  }

  const std::string* file_;
  YAML::Node node_;
  std::string path_;
  int line_ = -1;
};

// A map's entries, looked up by key; a null value counts as absent.
class Fields {
 public:
  Fields(const Node& map, Entries entries) : map_(map), entries_(std::move(entries)) {}

  // The value of `key`, null or not; nullptr when the key is absent.
  const Node* find(std::string_view key) const {
    for (const auto& [name, value] : entries_)
      if (name == key) return &value;
    return nullptr;
  }
  // The value of `key` unless it is absent or null.
  const Node* get(std::string_view key) const {
    const Node* n = find(key);
    return n && !n->is_null() ? n : nullptr;
  }

  Status text(std::string_view key, std::string& out) const {
    if (const Node* n = get(key)) return assign(n->text(), out);
    return {};
  }
  Status flag(std::string_view key, bool& out) const {
    if (const Node* n = get(key)) return assign(n->flag(), out);
    return {};
  }
  Status count(std::string_view key, uint64_t max, std::optional<uint64_t>& out) const {
    if (const Node* n = get(key)) return assign(n->count(max), out);
    return {};
  }
  // Present, a string and not empty.
  Status required(std::string_view key, std::string& out) const {
    BPM_TRY(text(key, out));
    if (!out.empty()) return {};
    if (const Node* n = find(key)) return n->error("must not be empty");
    return map_.error_at(map_.child_path(key), "required but missing");
  }
  // Each item through `read`, when the key is present.
  Status each(std::string_view key, const std::function<Status(const Node&)>& read) const {
    const Node* n = get(key);
    if (!n) return {};
    auto items = n->items();
    if (!items) return std::move(items).error();
    for (const Node& item : *items) BPM_TRY(read(item));
    return {};
  }

 private:
  template <typename T, typename Out>
  static Status assign(Result<T> value, Out& out) {
    if (!value) return std::move(value).error();
    out = std::move(*value);
    return {};
  }

  Node map_;
  Entries entries_;
};

Result<Fields> fields(const Node& n, std::initializer_list<std::string_view> known) {
  auto entries = n.entries(known);
  if (!entries) return std::move(entries).error();
  return Fields(n, std::move(*entries));
}

Status read_texts(const Fields& f, std::string_view key, std::vector<std::string>& out) {
  return f.each(key, [&](const Node& item) -> Status {
    auto s = item.text();
    if (!s) return std::move(s).error();
    out.push_back(std::move(*s));
    return {};
  });
}

Status read_volumes(const Fields& f, std::string_view key, std::vector<Volume>& out) {
  return f.each(key, [&](const Node& item) -> Status {
    if (item.is_null()) return item.error("expected a volume with a path, got nothing");
    auto v = fields(item, {"path", "writable", "allow_executions", "mount_only", "shared"});
    if (!v) return std::move(v).error();
    Volume vol;
    vol.origin = item.origin();
    BPM_TRY(v->required("path", vol.path));
    BPM_TRY(v->flag("writable", vol.writable));
    BPM_TRY(v->flag("allow_executions", vol.allow_executions));
    BPM_TRY(v->flag("mount_only", vol.mount_only));
    BPM_TRY(v->flag("shared", vol.shared));
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
  BPM_TRY(f->count("open_files", kUint64Max, out.open_files));
  BPM_TRY(f->count("processes", kInt64Max, out.processes));
  BPM_TRY(f->count("core_file_size", kUint64Max, out.core_file_size));
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
  BPM_TRY(f->flag("privileged", out.privileged));
  BPM_TRY(read_volumes(*f, "unrestricted_volumes", out.unrestricted_volumes));
  BPM_TRY(f->flag("host_pid_namespace", out.host_pid_namespace));
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
  BPM_TRY(f->required("name", p.name));
  BPM_TRY(check_name(*f, p.name));
  BPM_TRY(f->required("executable", p.executable));
  BPM_TRY(read_texts(*f, "args", p.args));
  BPM_TRY(read_env(*f, p.env));
  BPM_TRY(f->text("workdir", p.workdir));
  if (const Node* hooks = f->get("hooks")) {
    auto h = fields(*hooks, {"pre_start"});
    if (!h) return std::move(h).error();
    BPM_TRY(h->text("pre_start", p.pre_start));
  }
  BPM_TRY(f->each("capabilities", [&](const Node& item) -> Status {
    auto cap = item.text();
    if (!cap) return std::move(cap).error();
    if (cap->empty() || cap->starts_with("CAP_"))
      return item.error("expected a capability name without CAP_ (NET_ADMIN), got \"" + *cap +
                        "\"");
    p.capabilities.push_back(std::move(*cap));
    return {};
  }));
  if (const Node* limits = f->get("limits")) BPM_TRY(read_limits(*limits, p.limits));
  BPM_TRY(f->flag("ephemeral_disk", p.ephemeral_disk));
  BPM_TRY(f->flag("persistent_disk", p.persistent_disk));
  BPM_TRY(read_volumes(*f, "additional_volumes", p.additional_volumes));
  BPM_TRY(read_signal(*f, p.shutdown_signal));
  if (const Node* unsafe = f->get("unsafe")) BPM_TRY(read_unsafe(*unsafe, p.unsafe));
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
  BPM_TRY(f->each("processes", [&](const Node& item) -> Status {
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
