#include "worker/beacon/resource_types.h"

#include <nlohmann/json.hpp>

#include "common/fs.h"

namespace tarmac::beacon {

Result<std::vector<registry::v1::ResourceType>> load_resource_types(const std::string& dir) {
  auto names = fs::list_dir(dir);
  if (!names) return std::move(names).error().wrap("--resource-types");
  std::vector<registry::v1::ResourceType> types;
  for (const std::string& name : *names) {
    std::string base = dir + "/" + name;
    std::string meta = base + "/resource_metadata.json";
    if (!fs::exists(meta)) continue;  // not a resource type
    auto text = fs::read_file(meta);
    if (!text) return std::move(text).error();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error(meta + ": expected a JSON object");
    registry::v1::ResourceType t;
    auto string_field = [&](const char* key, bool required, std::string* out) -> Status {
      auto it = j.find(key);
      if (it == j.end()) {
        if (required) return Error(meta + ": " + key + ": expected a string");
        return {};
      }
      if (!it->is_string())
        return Error(meta + ": " + key + ": expected a string, got " + it->dump());
      *out = it->get<std::string>();
      return {};
    };
    auto bool_field = [&](const char* key, bool* out) -> Status {
      auto it = j.find(key);
      if (it == j.end()) return {};
      if (!it->is_boolean())
        return Error(meta + ": " + key + ": expected true or false, got " + it->dump());
      *out = it->get<bool>();
      return {};
    };
    std::string type, version;
    bool privileged = false, unique = false;
    TARMAC_TRY(string_field("type", true, &type));
    TARMAC_TRY(string_field("version", false, &version));
    TARMAC_TRY(bool_field("privileged", &privileged));
    TARMAC_TRY(bool_field("unique_version_history", &unique));
    if (type.empty()) return Error(meta + ": type: expected a non-empty name");
    std::string image = fs::exists(base + "/rootfs.tgz") ? base + "/rootfs.tgz"
                        : fs::exists(base + "/rootfs")   ? base + "/rootfs"
                                                         : "";
    if (image.empty()) return Error(base + ": expected its image, rootfs.tgz or rootfs/");
    t.set_type(type);
    t.set_version(version);
    t.set_privileged(privileged);
    t.set_unique_version_history(unique);
    t.set_image(image);
    types.push_back(std::move(t));
  }
  return types;
}

}  // namespace tarmac::beacon
