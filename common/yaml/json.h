#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>

namespace tarmac::yaml {

// A YAML value as JSON, typed as go-yaml types it: unquoted true/false/yes/no → bool,
// integers and floats → numbers, null/~/empty → null, everything else (and anything quoted)
// a string. Maps keep their keys as strings.
nlohmann::json to_json(const YAML::Node& node);

}  // namespace tarmac::yaml
