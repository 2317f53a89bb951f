#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.h"

namespace tarmac::fs {

static Result<std::string> read_all(int fd, const std::string& path) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error("open " + path);
  return read_all(fd.get(), path);
}

Result<std::string> read_file_at(int dir_fd, const std::string& name) {
  UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_error("open " + name);
  return read_all(fd.get(), name);
}

static Status write_all(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write " + path);
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status pwrite_all(int fd, std::string_view data, off_t offset) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return {};
}

Status write_new_file_at(int dir_fd, const std::string& name, std::string_view content,
                         mode_t mode) {
  UniqueFd fd(
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd) return sys_error("create " + name);
  return write_all(fd.get(), content, name);
}

Status write_file(const std::string& path, std::string_view content, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return sys_error("open " + path);
  return write_all(fd.get(), content, path);
}

Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode,
                         bool durable) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return sys_error("open " + tmp);
    if (auto s = write_all(fd.get(), content, tmp); !s) return s;
    if (durable && ::fsync(fd.get()) != 0) return sys_error("fsync " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return sys_error("rename " + tmp + " to " + path, e);
  }
  return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Error("make dirs: empty path");
  // Most calls make one directory under parents that exist: one mkdir then, and otherwise
  // one per missing level, up from the nearest that exists (never a walk down from the root;
  // cgroups are made this way in every hierarchy for every container, and the worker's
  // directories for every container and process).
  if (::mkdir(path.c_str(), mode) == 0) return {};
  if (errno == ENOENT) {
    size_t end = path.find_last_not_of('/');
    size_t slash = end == std::string::npos ? end : path.rfind('/', end);
    if (slash == std::string::npos || slash == 0) return sys_error("mkdir " + path);
    TARMAC_TRY(make_dirs(path.substr(0, slash), mode));
    if (::mkdir(path.c_str(), mode) == 0) return {};
    if (errno != EEXIST) return sys_error("mkdir " + path);
  } else if (errno != EEXIST) {
    return sys_error("mkdir " + path);
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat " + path);
  if (!S_ISDIR(st.st_mode)) return Error("mkdir " + path + ": exists and is not a directory");
  return {};
}

static Status remove_at(int parent, const char* name, dev_t dev, const std::string& path) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return sys_error("stat " + path);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev)
      return Error("remove " + path + ": is a mount point or another filesystem");
    int dfd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return sys_error("open " + path);
    DIR* d = ::fdopendir(dfd);
    if (!d) {
      ::close(dfd);
      return sys_error("opendir " + path);
    }
    Status result;
    while (struct dirent* e = ::readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      result = remove_at(dfd, e->d_name, dev, path + "/" + e->d_name);
      if (!result) break;
    }
    ::closedir(d);
    if (!result) return result;
    if (::unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
      return sys_error("rmdir " + path);
    return {};
  }
  if (::unlinkat(parent, name, 0) != 0 && errno != ENOENT) return sys_error("unlink " + path);
  return {};
}

Status remove_all(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return sys_error("stat " + path);
  }
  return remove_at(AT_FDCWD, path.c_str(), st.st_dev, path);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return sys_error("opendir " + dir);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::vector<std::string>> list_dir_at(int dir_fd) {
  UniqueFd dup(::dup(dir_fd));
  DIR* d = dup ? ::fdopendir(dup.get()) : nullptr;
  if (!d) return sys_error("opendir");
  dup.release();
  // A dup shares its position with dir_fd: from the start, whatever read it before.
  ::rewinddir(d);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

Result<std::string> make_temp_dir(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix) + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return sys_error("mkdtemp " + tmpl);
  return tmpl;
}

}  // namespace tarmac::fs
