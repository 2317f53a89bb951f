#include "worker/shim/protocol.h"

#include <limits>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace tarmac::shim {

std::string to_json(const ShimRequest& r) {
  nlohmann::json j;
  j["container"] = r.container;
  j["runtime"] = {{"run_dir", r.runtime.run_dir},
                  {"cgroup_root", r.runtime.cgroup_root},
                  {"cgroup_parent", r.runtime.cgroup_parent},
                  {"init_path", r.runtime.init_path},
                  {"seccomp_file", r.runtime.seccomp_file}};
  j["process"] = {{"args", r.process.args}, {"env", r.process.env},
                  {"dir", r.process.cwd},   {"uid", r.process.uid},
                  {"gid", r.process.gid},   {"groups", r.process.additional_gids}};
  j["tty"] = r.tty;
  j["rows"] = r.rows;
  j["columns"] = r.columns;
  j["retain_bytes"] = r.retain_bytes;
  j["output_dir"] = r.output_dir;
  return j.dump();
}

namespace {

// Reads `key` of `obj` as T; a missing key keeps the default.
template <typename T>
Status get(const nlohmann::json& obj, const char* key, const std::string& where, T& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  try {
    out = it->get<T>();
  } catch (const nlohmann::json::exception& e) {
    return Error(where + key + ": " + e.what());
  }
  return {};
}

// Integers are range-checked: nlohmann would wrap 70000 into a uint16_t silently.
template <typename T>
requires std::is_integral_v<T> Status get_int(const nlohmann::json& obj, const char* key,
                                              const std::string& where, T& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  using Limits = std::numeric_limits<T>;
  bool in_range = false;
  if (it->is_number_unsigned()) {
    in_range = it->get<uint64_t>() <= static_cast<uint64_t>(Limits::max());
  } else if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    in_range = v >= static_cast<int64_t>(Limits::min()) &&
               (v < 0 || static_cast<uint64_t>(v) <= static_cast<uint64_t>(Limits::max()));
  }
  if (!in_range)
    return Error(where + key + ": expected an integer from " +
                 std::to_string(std::numeric_limits<T>::min()) + " to " +
                 std::to_string(std::numeric_limits<T>::max()) + ", got " + it->dump());
  out = it->get<T>();
  return {};
}

}  // namespace

Result<ShimRequest> parse_request(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error("process.json: expected a JSON object");
  ShimRequest r;
  TARMAC_TRY(get(j, "container", "process.json: ", r.container));
  if (r.container.empty()) return Error("process.json: container: expected a container id");
  auto rt = j.value("runtime", nlohmann::json::object());
  auto pr = j.value("process", nlohmann::json::object());
  if (!rt.is_object() || !pr.is_object())
    return Error("process.json: runtime, process: expected objects");
  for (auto [key, field] : {std::pair{"run_dir", &r.runtime.run_dir},
                            {"cgroup_root", &r.runtime.cgroup_root},
                            {"cgroup_parent", &r.runtime.cgroup_parent},
                            {"init_path", &r.runtime.init_path},
                            {"seccomp_file", &r.runtime.seccomp_file}})
    TARMAC_TRY(get(rt, key, "process.json: runtime.", *field));
  TARMAC_TRY(get(pr, "args", "process.json: process.", r.process.args));
  TARMAC_TRY(get(pr, "env", "process.json: process.", r.process.env));
  TARMAC_TRY(get(pr, "dir", "process.json: process.", r.process.cwd));
  TARMAC_TRY(get_int(pr, "uid", "process.json: process.", r.process.uid));
  TARMAC_TRY(get_int(pr, "gid", "process.json: process.", r.process.gid));
  TARMAC_TRY(get(pr, "groups", "process.json: process.", r.process.additional_gids));
  if (r.process.args.empty()) return Error("process.json: process.args: expected the executable");
  TARMAC_TRY(get(j, "tty", "process.json: ", r.tty));
  TARMAC_TRY(get_int(j, "rows", "process.json: ", r.rows));
  TARMAC_TRY(get_int(j, "columns", "process.json: ", r.columns));
  TARMAC_TRY(get_int(j, "retain_bytes", "process.json: ", r.retain_bytes));
  TARMAC_TRY(get(j, "output_dir", "process.json: ", r.output_dir));
  if (r.output_dir.empty() || r.output_dir.front() != '/')
    return Error("process.json: output_dir: expected an absolute path, got \"" + r.output_dir +
                 "\"");
  return r;
}

}  // namespace tarmac::shim
