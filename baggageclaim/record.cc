#include "baggageclaim/record.h"

#include <nlohmann/json.hpp>

namespace tarmac::baggageclaim {

std::string encode_meta(const VolumeRecord& record) {
  nlohmann::json j = {
      {"handle", record.volume.handle},
      {"properties", record.volume.properties},
      {"privileged", record.volume.privileged},
      {"parent", record.volume.parent},
      {"inherited_layers", record.inherited_layers},
  };
  return j.dump();
}

Result<VolumeRecord> decode_meta(const std::string& path, const std::string& content) {
  // nlohmann throws; the exceptions end here.
  try {
    auto j = nlohmann::json::parse(content);
    if (!j.is_object()) return Error(path + ": expected a JSON object");
    VolumeRecord r;
    r.volume.handle = j.at("handle").get<std::string>();
    r.volume.properties = j.at("properties").get<Properties>();
    r.volume.privileged = j.at("privileged").get<bool>();
    r.volume.parent = j.at("parent").get<std::string>();
    r.inherited_layers = j.at("inherited_layers").get<std::vector<std::string>>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Error(path + ": " + e.what());
  }
}

Status check_handle(const std::string& handle) {
  if (handle.empty() || handle.size() > 128 || handle == "." || handle == "..")
    return Error("handle \"" + handle + "\": expected 1 to 128 characters, not . or ..");
  for (char c : handle) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return Error("handle \"" + handle + "\": expected only letters, digits, . _ -");
  }
  return ok_status();
}

}  // namespace tarmac::baggageclaim
