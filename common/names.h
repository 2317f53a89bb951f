#pragma once

#include <cctype>
#include <cstddef>
#include <string_view>

namespace tarmac {

// A name safe as a row key, a path segment, a log field and a certificate name (workers,
// teams, artifacts): 1 to `max` letters, digits, '-', '_' or '.', and not "." or "..".
inline bool is_plain_name(std::string_view n, size_t max) {
  if (n.empty() || n.size() > max || n == "." || n == "..") return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

}  // namespace tarmac
