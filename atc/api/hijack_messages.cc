#include "atc/api/hijack_messages.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace tarmac::atc::api {
namespace {

// A terminal dimension: 1 to 65535 (a tty's size is two 16-bit numbers).
unsigned dimension(const nlohmann::json& window, const char* key, unsigned fallback) {
  auto it = window.find(key);
  if (it == window.end()) return fallback;
  if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > 0xffff)
    throw nlohmann::json::type_error::create(302, std::string(key) + ": expected 1 to 65535",
                                             nullptr);
  return it->get<unsigned>();
}

void set_size(const nlohmann::json& tty, worker::v1::TtySize* size) {
  const auto& window = tty.value("window_size", nlohmann::json::object());
  if (!window.is_object())
    throw nlohmann::json::type_error::create(302, "window_size: expected an object", nullptr);
  size->set_columns(dimension(window, "columns", 80));
  size->set_rows(dimension(window, "rows", 24));
}

// A list of strings, or absent.
void strings(const nlohmann::json& spec, const char* key,
             google::protobuf::RepeatedPtrField<std::string>* out) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return;
  if (!it->is_array())
    throw nlohmann::json::type_error::create(302, std::string(key) + ": expected a list", nullptr);
  for (const auto& v : *it) out->Add(v.get<std::string>());
}

}  // namespace

Result<worker::v1::ProcessSpec> parse_hijack_spec(const std::string& json,
                                                  const std::string& default_dir,
                                                  const std::string& default_user) {
  auto spec = nlohmann::json::parse(json, nullptr, false);
  if (!spec.is_object()) return Error("process spec: expected a JSON object", EINVAL);
  auto path = spec.find("path");
  if (path == spec.end() || !path->is_string() || path->get<std::string>().empty())
    return Error("process spec: path: expected the command to run", EINVAL);
  worker::v1::ProcessSpec p;
  p.set_path(path->get<std::string>());
  const char* field = "args";
  try {
    strings(spec, "args", p.mutable_args());
    field = "env";
    strings(spec, "env", p.mutable_env());
    field = "dir";
    std::string dir = spec.value("dir", "");
    p.set_dir(dir.empty() ? default_dir : dir);
    field = "user";
    std::string user = spec.value("user", "");
    p.set_user(user.empty() ? default_user : user);
    field = "tty";
    if (auto tty = spec.find("tty"); tty != spec.end() && !tty->is_null()) {
      if (!tty->is_object()) return Error("process spec: tty: expected an object", EINVAL);
      set_size(*tty, p.mutable_tty());
    }
  } catch (const nlohmann::json::exception&) {
    return Error(std::string("process spec: ") + field + ": wrong type", EINVAL);
  }
  return p;
}

std::optional<worker::v1::ProcessInput> parse_hijack_input(const std::string& json) {
  auto m = nlohmann::json::parse(json, nullptr, false);
  if (!m.is_object()) return std::nullopt;
  worker::v1::ProcessInput input;
  try {
    if (auto it = m.find("stdin"); it != m.end() && it->is_string()) {
      auto bytes = base64_decode(it->get<std::string>());
      if (!bytes) return std::nullopt;
      input.set_stdin(*bytes);
    } else if (m.value("closed", false)) {
      input.set_close_stdin(true);
    } else if (auto tty = m.find("tty"); tty != m.end() && tty->is_object()) {
      set_size(*tty, input.mutable_resize());
    } else {
      return std::nullopt;
    }
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return input;
}

}  // namespace tarmac::atc::api
