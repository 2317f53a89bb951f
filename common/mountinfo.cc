#include "common/mountinfo.h"

#include <sstream>

#include "common/fs.h"

namespace tarmac {
namespace {

// Paths in mountinfo escape space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  auto octal = [&](size_t j) { return j < s.size() && s[j] >= '0' && s[j] <= '7'; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Result<std::vector<MountPoint>> parse_mountinfo(const std::string& mountinfo) {
  std::vector<MountPoint> mounts;
  std::istringstream in(mountinfo);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string w; fields >> w;) f.push_back(w);
    // id parent major:minor root mountpoint options [optional...] - fstype source superopts
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (f.size() < 10 || dash + 3 > f.size())
      return Error("mountinfo line " + std::to_string(number) +
                   ": expected \"id parent dev root mountpoint options [fields] - type source "
                   "options\"");
    MountPoint m;
    m.path = unescape(f[4]);
    for (size_t i = 6; i < dash; ++i)
      if (f[i].rfind("shared:", 0) == 0) m.shared = true;
    mounts.push_back(std::move(m));
  }
  return mounts;
}

Result<std::vector<MountPoint>> read_mountinfo() {
  auto text = fs::read_file("/proc/self/mountinfo");
  if (!text) return std::move(text).error().wrap("read mountinfo");
  return parse_mountinfo(*text);
}

namespace {

std::optional<MountPoint> last_at(const std::vector<MountPoint>& mounts, const std::string& path) {
  std::optional<MountPoint> found;
  for (const MountPoint& m : mounts)
    if (m.path == path) found = m;
  return found;
}

}  // namespace

Result<std::optional<MountPoint>> find_mount_point(const std::string& mountinfo,
                                                   const std::string& path) {
  auto mounts = parse_mountinfo(mountinfo);
  if (!mounts) return std::move(mounts).error();
  return last_at(*mounts, path);
}

Result<std::optional<MountPoint>> find_mount_point(const std::string& path) {
  auto mounts = read_mountinfo();
  if (!mounts) return std::move(mounts).error();
  return last_at(*mounts, path);
}

}  // namespace tarmac
