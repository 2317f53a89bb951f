#include "worker/containers/user.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <sstream>
#include <vector>

#include "common/unique_fd.h"

namespace tarmac::containers {
namespace {

bool parse_id(const std::string& s, uint32_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

Result<std::string> read_in_root(const std::string& rootfs, const char* path) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return sys_error("open rootfs " + rootfs);
  open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(::syscall(SYS_openat2, root.get(), path, &how, sizeof how)));
  if (!fd) return sys_error(std::string("open the image's /") + path);
  std::string text;
  char buf[8192];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof buf)) > 0 && text.size() < (4 << 20))
    text.append(buf, n);
  if (n < 0) return sys_error(std::string("read the image's /") + path);
  return text;
}

}  // namespace

Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user) {
  if (user.empty() || user == "root") return ResolvedUser{};
  ResolvedUser r;
  auto colon = user.find(':');
  std::string name = user.substr(0, colon);
  if (parse_id(name, r.uid)) {
    r.gid = r.uid;
    if (colon != std::string::npos && !parse_id(user.substr(colon + 1), r.gid))
      return Error("user \"" + user + "\": expected a name, a uid or uid:gid");
    return r;
  }
  if (colon != std::string::npos)
    return Error("user \"" + user + "\": expected a name, a uid or uid:gid");
  auto passwd = read_in_root(rootfs, "etc/passwd");
  if (!passwd) return std::move(passwd).error().wrap("user \"" + user + "\"");
  std::istringstream lines(*passwd);
  std::string line;
  while (std::getline(lines, line)) {
    // name:password:uid:gid:gecos:home:shell
    std::vector<std::string> f;
    std::istringstream fields(line);
    std::string field;
    while (std::getline(fields, field, ':')) f.push_back(field);
    if (f.size() < 4 || f[0] != name) continue;
    if (!parse_id(f[2], r.uid) || !parse_id(f[3], r.gid))
      return Error("user \"" + user + "\": the image's /etc/passwd has a broken line for it");
    return r;
  }
  return Error("user \"" + user + "\": not in the image's /etc/passwd");
}

}  // namespace tarmac::containers
