#include "baggageclaim/tar/beneath.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace tarmac::baggageclaim::tar {

Result<std::vector<std::string>> split_relative(const std::string& path, const std::string& what) {
  if (!path.empty() && path[0] == '/')
    return Error(what + " \"" + path + "\": refused: absolute path", EINVAL);
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return Error(what + " \"" + path + "\": refused: \"..\" in path", EINVAL);
    parts.push_back(std::move(part));
  }
  return parts;
}

namespace {

int openat2_beneath(int dir_fd, const std::string& name, int flags) {
  open_how how = {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, name.c_str(), &how, sizeof(how)));
}

}  // namespace

Result<UniqueFd> open_dir_beneath(int dir_fd, const std::vector<std::string>& components,
                                  bool create, const std::string& what) {
  UniqueFd current(::dup(dir_fd));
  if (!current) return sys_error(what + ": dup");
  std::string walked;
  for (const auto& part : components) {
    walked += walked.empty() ? part : "/" + part;
    int fd = openat2_beneath(current.get(), part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(current.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
        return sys_error(what + ": mkdir \"" + walked + "\"");
      fd = openat2_beneath(current.get(), part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV)
        return Error(what + ": refused: \"" + walked + "\" is a symlink or not a directory",
                     EINVAL);
      return sys_error(what + ": open \"" + walked + "\"");
    }
    current.reset(fd);
  }
  return current;
}

Status remove_at(int dir_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return ok_status();
    return sys_error("remove \"" + name + "\": stat");
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return sys_error("remove \"" + name + "\"");
    return ok_status();
  }
  int fd = openat2_beneath(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) return sys_error("remove \"" + name + "\": open");
  // A directory that lost its write or search bit still goes: root, but be explicit.
  (void)::fchmod(fd, 0700);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return sys_error("remove \"" + name + "\": open");
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  Status status;
  for (const auto& n : names) {
    status = remove_at(::dirfd(d), n);
    if (!status.ok()) break;
  }
  ::closedir(d);
  if (!status.ok()) return status;
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return sys_error("remove \"" + name + "\"");
  return ok_status();
}

}  // namespace tarmac::baggageclaim::tar
