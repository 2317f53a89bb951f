#pragma once

#include <optional>
#include <string>

#include "common/result.h"
#include "tarmac/worker/v1/containers.pb.h"

namespace tarmac::atc::api {

// Concourse's HijackProcessSpec (the first message of an intercept) as a worker process
// spec: path (required), args, env, dir and user (the container's when empty), tty with its
// window_size. Errors name the field.
Result<worker::v1::ProcessSpec> parse_hijack_spec(const std::string& json,
                                                  const std::string& default_dir,
                                                  const std::string& default_user);

// A later HijackInput: {"stdin": base64}, {"closed": true} or {"tty": {"window_size":
// {...}}}. Nullopt for anything else (unknown, malformed, wrong types): ignored.
std::optional<worker::v1::ProcessInput> parse_hijack_input(const std::string& json);

}  // namespace tarmac::atc::api
