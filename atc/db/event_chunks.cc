#include "atc/db/event_chunks.h"

#include <zstd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

namespace tarmac::atc::db {
namespace {

// Compaction runs once per build, off the hot path: a high level is affordable.
constexpr int kLevel = 9;
// Most bytes a chunk may unpack to; a larger claim is a corrupt or hostile row.
constexpr unsigned long long kMaxUnpacked = 256ull << 20;

}  // namespace

std::string pack_events(const std::vector<BuildEvent>& events) {
  std::string lines;
  for (const auto& e : events) {
    // The payload is stored as the JSON text it is, so it comes back byte for byte.
    lines += "{\"i\":" + std::to_string(e.event_id) + ",\"t\":" + nlohmann::json(e.type).dump() +
             ",\"v\":" + nlohmann::json(e.version).dump() + ",\"p\":" + e.payload + "}\n";
  }
  std::string out(ZSTD_compressBound(lines.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), lines.data(), lines.size(), kLevel);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

Result<std::vector<BuildEvent>> unpack_events(std::string_view packed) {
  unsigned long long size = ZSTD_getFrameContentSize(packed.data(), packed.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > kMaxUnpacked)
    return Error("event chunk: not a zstd frame of known size", EINVAL);
  std::string lines(size, '\0');
  size_t n = ZSTD_decompress(lines.data(), lines.size(), packed.data(), packed.size());
  if (ZSTD_isError(n)) return Error(std::string("event chunk: ") + ZSTD_getErrorName(n), EINVAL);
  lines.resize(n);
  std::vector<BuildEvent> out;
  size_t start = 0;
  while (start < lines.size()) {
    size_t end = lines.find('\n', start);
    if (end == std::string::npos) end = lines.size();
    auto j = nlohmann::json::parse(lines.substr(start, end - start), nullptr, false);
    if (!j.is_object() || !j.contains("i") || !j["i"].is_number_integer() || !j.contains("p"))
      return Error("event chunk: line " + std::to_string(out.size() + 1) + " is not an event",
                   EINVAL);
    out.push_back({j["i"].get<int>(), j.value("t", ""), j.value("v", ""), j["p"].dump()});
    start = end + 1;
  }
  return out;
}

std::string to_bytea_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

Result<std::string> from_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2)
    return Error("bytea: expected hex output (\\x…)", EINVAL);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return Error("bytea: bad hex digit", EINVAL);
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

}  // namespace tarmac::atc::db
