#include "common/yaml/json.h"

#include "common/yaml/node.h"

#include <cerrno>
#include <cstdlib>

namespace tarmac::yaml {
namespace {

nlohmann::json scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (quoted(n)) return s;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  bool b = false;
  if (YAML::convert<bool>::decode(n, b)) return b;
  // Integers (with sign), then floats; anything else is text ("1.2.3", "0x", "1e").
  char* end = nullptr;
  errno = 0;
  long long i = std::strtoll(s.c_str(), &end, 10);
  if (*end == '\0' && errno == 0) return i;
  errno = 0;
  double d = std::strtod(s.c_str(), &end);
  if (*end == '\0' && errno == 0 && s.find_first_of("0123456789") != std::string::npos &&
      s.find_first_not_of("0123456789+-.eE") == std::string::npos)
    return d;
  return s;
}

}  // namespace

nlohmann::json to_json(const YAML::Node& node) {
  if (!node || node.IsNull()) return nullptr;
  if (node.IsScalar()) return scalar(node);
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : node) out.push_back(to_json(item));
    return out;
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& kv : node) out[kv.first.Scalar()] = to_json(kv.second);
  return out;
}

}  // namespace tarmac::yaml
