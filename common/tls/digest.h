#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tarmac::tls {

// Lower-case hex of `n` bytes.
std::string hex(const unsigned char* bytes, size_t n);

// SHA-256 of `data`, as hex (bearer tokens at rest, bpm's volume lock names).
std::string sha256_hex(std::string_view data);

}  // namespace tarmac::tls
