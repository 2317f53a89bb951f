#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tarmac {

// Standard base64 with padding (RFC 4648 §4): how Concourse's JSON carries bytes (Go's
// []byte), e.g. the stdin and stdout of `fly intercept`.
std::string base64_encode(std::string_view bytes);
// Nullopt for anything that is not canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace tarmac
