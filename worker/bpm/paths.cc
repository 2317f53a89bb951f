#include "worker/bpm/paths.h"

#include <cstdlib>
#include <vector>

namespace tarmac::bpm {
namespace {

// Locale-independent on purpose: the id must not change with LANG.
bool kept_as_is(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::string escape(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (kept_as_is(c)) {
      out += static_cast<char>(c);
    } else {
      out += '.';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

BoshPaths::BoshPaths(std::string_view root) : root_(clean_path(root)) {}

BoshPaths BoshPaths::from_env() {
  const char* root = std::getenv("BPM_BOSH_ROOT");
  return BoshPaths(root && *root ? std::string_view(root) : kDefaultBoshRoot);
}

std::string BoshPaths::inside(const std::string& host_path) const {
  if (host_path == root_) return std::string(kDefaultBoshRoot);
  if (root_ != "/" && host_path.size() > root_.size() && host_path.starts_with(root_) &&
      host_path[root_.size()] == '/')
    return std::string(kDefaultBoshRoot) + host_path.substr(root_.size());
  return host_path;
}

std::string BoshPaths::lock_file(const std::string& job, const std::string& proc) const {
  return locks_dir() + "/job-bpm-" + escape(job + "." + proc) + ".lock";
}

std::string BoshPaths::cgroup_parent() const {
  if (root_ == kDefaultBoshRoot) return "bpm";
  return "bpm-" + escape(root_.substr(root_.rfind('/') + 1));
}

std::string container_id(const std::string& job, const std::string& proc) {
  return "bpm-" + escape(job == proc ? job : job + "." + proc);
}

Result<std::string> decode_container_id(std::string_view id) {
  if (!id.starts_with("bpm-"))
    return Error("invalid job ID (missing prefix): \"" + std::string(id) + "\"");
  std::string name;
  for (size_t i = 4; i < id.size(); ++i) {
    if (id[i] != '.') {
      name += id[i];
      continue;
    }
    int hi = i + 1 < id.size() ? hex_value(id[i + 1]) : -1;
    int lo = i + 2 < id.size() ? hex_value(id[i + 2]) : -1;
    if (hi < 0 || lo < 0)
      return Error("invalid job ID (incomplete escape sequence): \"" + std::string(id) + "\"");
    name += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return name;
}

std::string clean_path(std::string_view path) {
  if (path.empty()) return ".";
  bool absolute = path.front() == '/';
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);  // a relative path may climb; "/.." is "/"
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

}  // namespace tarmac::bpm
