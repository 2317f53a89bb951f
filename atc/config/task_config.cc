#include "atc/config/task_config.h"

#include <cctype>
#include <set>

#include "common/fs.h"
#include "common/names.h"
#include "common/yaml/json.h"
#include "common/yaml/node.h"

namespace tarmac::atc::config {
namespace {

using yaml::Fields;
using yaml::fields;
using yaml::Node;

// A path inside the task's working directory: relative and never climbing out.
bool inside(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    if (slash == std::string::npos) slash = p.size();
    if (p.compare(start, slash - start, "..") == 0 && slash - start == 2) return false;
    start = slash + 1;
  }
  return true;
}

Status read_name_and_path(const Fields& f, const Node& item, std::string& name, std::string& path) {
  TARMAC_TRY(f.required("name", name));
  if (!is_plain_name(name, 255))
    return item.error_at(item.child_path("name"),
                         "\"" + name + "\" is not a valid name (letters, digits, '-', '_', '.')");
  TARMAC_TRY(f.text("path", path));
  if (path.empty()) path = name;
  if (!inside(path))
    return item.error_at(
        item.child_path("path"),
        "\"" + path + "\" must be a relative path inside the task's working directory");
  return ok_status();
}

Status read_inputs(const Fields& f, std::vector<TaskInput>& out) {
  std::set<std::string> seen;
  return f.each("inputs", [&](const Node& item) -> Status {
    auto in = fields(item, {"name", "path", "optional"});
    if (!in) return std::move(in).error();
    TaskInput input;
    TARMAC_TRY(read_name_and_path(*in, item, input.name, input.path));
    TARMAC_TRY(in->flag("optional", input.optional));
    if (!seen.insert(input.name).second)
      return item.error_at(item.child_path("name"), "input \"" + input.name + "\" given twice");
    out.push_back(std::move(input));
    return ok_status();
  });
}

Status read_outputs(const Fields& f, std::vector<TaskOutput>& out) {
  std::set<std::string> seen;
  return f.each("outputs", [&](const Node& item) -> Status {
    auto o = fields(item, {"name", "path"});
    if (!o) return std::move(o).error();
    TaskOutput output;
    TARMAC_TRY(read_name_and_path(*o, item, output.name, output.path));
    if (!seen.insert(output.name).second)
      return item.error_at(item.child_path("name"), "output \"" + output.name + "\" given twice");
    out.push_back(std::move(output));
    return ok_status();
  });
}

Status read_caches(const Fields& f, std::vector<std::string>& out) {
  return f.each("caches", [&](const Node& item) -> Status {
    auto c = fields(item, {"path"});
    if (!c) return std::move(c).error();
    std::string path;
    TARMAC_TRY(c->required("path", path));
    if (!inside(path))
      return item.error_at(
          item.child_path("path"),
          "\"" + path + "\" must be a relative path inside the task's working directory");
    out.push_back(std::move(path));
    return ok_status();
  });
}

Status read_params(const Fields& f, std::vector<std::pair<std::string, std::string>>& out) {
  const Node* p = f.get("params");
  if (!p) return ok_status();
  auto entries = p->entries();
  if (!entries) return std::move(entries).error();
  for (const auto& [name, value] : *entries) {
    if (name.empty() || name.find('=') != std::string::npos)
      return value.error("not a valid environment variable name");
    std::string text;
    if (value.is_null()) {
      text = "";
    } else if (value.raw().IsScalar()) {
      text = value.raw().Scalar();
    } else {
      text = yaml::to_json(value.raw()).dump();
    }
    out.emplace_back(name, std::move(text));
  }
  return ok_status();
}

Status read_image_resource(const Node& n, ImageResource& out) {
  auto f = fields(n, {"type", "source", "params", "version", "name"});
  if (!f) return std::move(f).error();
  TARMAC_TRY(f->required("type", out.type));
  for (const char* key : {"source", "params", "version"}) {
    const Node* v = f->get(key);
    if (!v) continue;
    if (!v->raw().IsMap()) return v->error("expected a map");
    nlohmann::json j = yaml::to_json(v->raw());
    if (std::string(key) == "source") out.source = j;
    if (std::string(key) == "params") out.params = j;
    if (std::string(key) == "version") out.version = j;
  }
  return ok_status();
}

Status read_limits(const Node& n, ContainerLimits& out) {
  auto f = fields(n, {"cpu", "memory"});
  if (!f) return std::move(f).error();
  if (const Node* cpu = f->get("cpu")) {
    auto v = cpu->count(1u << 30);
    if (!v) return std::move(v).error();
    out.cpu = *v;
  }
  if (const Node* mem = f->get("memory")) {
    if (!mem->raw().IsScalar()) return mem->error("expected bytes, like 1073741824 or \"1GB\"");
    auto bytes = parse_bytes(mem->raw().Scalar());
    if (!bytes)
      return mem->error("\"" + mem->raw().Scalar() +
                        "\" is not a size: expected bytes, like 1073741824 or \"1GB\"");
    out.memory = *bytes;
  }
  return ok_status();
}

Result<TaskConfig> read_task(const Node& root) {
  if (root.is_null()) return root.error("the task config is empty");
  auto f = fields(root, {"platform", "image_resource", "rootfs_uri", "image", "inputs", "outputs",
                         "caches", "params", "run", "container_limits"});
  if (!f) return std::move(f).error();
  TaskConfig c;
  TARMAC_TRY(f->required("platform", c.platform));
  if (const Node* ir = f->get("image_resource")) {
    c.image_resource.emplace();
    TARMAC_TRY(read_image_resource(*ir, *c.image_resource));
  }
  TARMAC_TRY(f->text("rootfs_uri", c.rootfs_uri));
  if (const Node* image = f->get("image"))
    return image->error("\"image\" belongs to the task step, not the task config");
  if (c.image_resource && !c.rootfs_uri.empty())
    return root.error("give image_resource or rootfs_uri, not both");
  TARMAC_TRY(read_inputs(*f, c.inputs));
  TARMAC_TRY(read_outputs(*f, c.outputs));
  TARMAC_TRY(read_caches(*f, c.caches));
  TARMAC_TRY(read_params(*f, c.params));
  const Node* run = f->get("run");
  if (!run) return root.error_at("run", "required but missing");
  auto r = fields(*run, {"path", "args", "dir", "user"});
  if (!r) return std::move(r).error();
  TARMAC_TRY(r->required("path", c.run.path));
  TARMAC_TRY(yaml::read_texts(*r, "args", c.run.args));
  TARMAC_TRY(r->text("dir", c.run.dir));
  TARMAC_TRY(r->text("user", c.run.user));
  if (const Node* limits = f->get("container_limits"))
    TARMAC_TRY(read_limits(*limits, c.container_limits));
  return c;
}

}  // namespace

std::optional<uint64_t> parse_bytes(const std::string& text) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string unit;
  for (; i < text.size(); ++i)
    unit += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  int shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "KB" || unit == "KIB")
    shift = 10;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    shift = 20;
  else if (unit == "G" || unit == "GB" || unit == "GIB")
    shift = 30;
  else if (unit == "T" || unit == "TB" || unit == "TIB")
    shift = 40;
  else
    return std::nullopt;
  if (shift && n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

namespace {

// Replaces ((name)) in every scalar with its value; names with no value are collected.
void interpolate(YAML::Node node, const Vars& vars, std::set<std::string>& missing) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) interpolate(it->second, vars, missing);
  } else if (node.IsSequence()) {
    for (auto child : node) interpolate(child, vars, missing);
  } else if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text.find("((") == std::string::npos) return;
    std::string out;
    size_t at = 0;
    for (;;) {
      size_t open = text.find("((", at);
      size_t close = open == std::string::npos ? open : text.find("))", open + 2);
      if (close == std::string::npos) {
        out += text.substr(at);
        break;
      }
      std::string name = text.substr(open + 2, close - open - 2);
      while (!name.empty() && name.front() == ' ') name.erase(0, 1);
      while (!name.empty() && name.back() == ' ') name.pop_back();
      out += text.substr(at, open - at);
      if (auto v = vars.find(name); v != vars.end()) {
        out += v->second;
      } else {
        missing.insert(name);
        out += text.substr(open, close + 2 - open);
      }
      at = close + 2;
    }
    node = out;
  }
}

}  // namespace

Result<TaskConfig> parse_task_config(const std::string& filename, const std::string& text,
                                     const Vars* vars) {
  try {
    YAML::Node root = YAML::Load(text);
    if (vars) {
      std::set<std::string> missing;
      interpolate(root, *vars, missing);
      if (!missing.empty()) {
        std::string names;
        for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
        return Error(filename + ": undefined vars: " + names + " (give them with -v NAME=VALUE)",
                     EINVAL);
      }
    }
    return read_task(Node(filename, root, "", std::max(root.Mark().line, 0)));
  } catch (const YAML::Exception& e) {
    return Error(yaml::where(filename, e.mark.line) + ": invalid YAML: " + e.msg, EINVAL);
  }
}

Result<TaskConfig> load_task_config(const std::string& path, const Vars* vars) {
  auto text = fs::read_file(path);
  if (!text) return std::move(text).error().wrap("read task config");
  return parse_task_config(path, *text, vars);
}

nlohmann::json to_json(const TaskConfig& c) {
  nlohmann::json j = {{"platform", c.platform}};
  if (c.image_resource) {
    nlohmann::json ir = {{"type", c.image_resource->type}, {"source", c.image_resource->source}};
    if (!c.image_resource->params.is_null()) ir["params"] = c.image_resource->params;
    if (!c.image_resource->version.is_null()) ir["version"] = c.image_resource->version;
    j["image_resource"] = ir;
  }
  if (!c.rootfs_uri.empty()) j["rootfs_uri"] = c.rootfs_uri;
  auto& inputs = j["inputs"] = nlohmann::json::array();
  for (const auto& in : c.inputs) {
    nlohmann::json i = {{"name", in.name}, {"path", in.path}};
    if (in.optional) i["optional"] = true;
    inputs.push_back(i);
  }
  auto& outputs = j["outputs"] = nlohmann::json::array();
  for (const auto& o : c.outputs) outputs.push_back({{"name", o.name}, {"path", o.path}});
  auto& caches = j["caches"] = nlohmann::json::array();
  for (const auto& p : c.caches) caches.push_back({{"path", p}});
  auto& params = j["params"] = nlohmann::json::object();
  for (const auto& [k, v] : c.params) params[k] = v;
  nlohmann::json run = {{"path", c.run.path}, {"args", c.run.args}};
  if (!c.run.dir.empty()) run["dir"] = c.run.dir;
  if (!c.run.user.empty()) run["user"] = c.run.user;
  j["run"] = run;
  nlohmann::json limits = nlohmann::json::object();
  if (c.container_limits.cpu) limits["cpu"] = *c.container_limits.cpu;
  if (c.container_limits.memory) limits["memory"] = *c.container_limits.memory;
  if (!limits.empty()) j["container_limits"] = limits;
  return j;
}

}  // namespace tarmac::atc::config
