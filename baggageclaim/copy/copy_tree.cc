#include "baggageclaim/copy/copy_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim {
namespace {

class TreeCopier {
 public:
  explicit TreeCopier(const CopyOptions& options) : options_(options) {}

  Status copy_root(const std::string& src, const std::string& dst) {
    UniqueFd s(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                                       (options_.follow_symlinks ? 0 : O_NOFOLLOW)));
    if (!s) return sys_error("copy " + src);
    UniqueFd d(::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return sys_error("copy to " + dst);
    struct stat st;
    if (::fstat(s.get(), &st) != 0) return sys_error("copy " + src + ": stat");
    root_dev_ = st.st_dev;
    active_dirs_.insert({st.st_dev, st.st_ino});
    TARMAC_RETURN_IF_ERROR(check_empty(d.get(), dst), "copy " + src);
    TARMAC_RETURN_IF_ERROR(copy_dir_content(s.get(), d.get(), ""), "copy " + src);
    TARMAC_RETURN_IF_ERROR(finish_node(s.get(), d.get(), "", st), "copy " + src);
    return ok_status();
  }

 private:
  static Status check_empty(int dir_fd, const std::string& path) {
    UniqueFd dup(::dup(dir_fd));
    DIR* d = ::fdopendir(dup.release());
    if (!d) return sys_error("open " + path);
    bool empty = true;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") empty = false;
    }
    ::closedir(d);
    if (!empty) return Error("destination " + path + " is not empty");
    return ok_status();
  }

  static std::string join(const std::string& rel, const char* name) {
    return rel.empty() ? std::string(name) : rel + "/" + name;
  }

  Result<std::pair<uid_t, gid_t>> ids(const struct stat& st, const std::string& rel) const {
    int64_t uid = int64_t{st.st_uid} + options_.id_offset;
    int64_t gid = int64_t{st.st_gid} + options_.id_offset;
    if (uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe)
      return Error("copy \"" + rel + "\": owner " + std::to_string(st.st_uid) + ":" +
                   std::to_string(st.st_gid) + " shifted by " + std::to_string(options_.id_offset) +
                   " is out of range");
    return std::pair<uid_t, gid_t>(static_cast<uid_t>(uid), static_cast<gid_t>(gid));
  }

  Status copy_dir_content(int src_dir, int dst_dir, const std::string& rel) {
    if (++depth_ > 4096) return Error("copy \"" + rel + "\": tree deeper than 4096 (a loop?)");
    UniqueFd dup(::dup(src_dir));
    DIR* d = ::fdopendir(dup.release());
    if (!d) return sys_error("copy \"" + rel + "\": open dir");
    ::rewinddir(d);
    std::vector<std::pair<std::string, unsigned char>> entries;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      entries.emplace_back(e->d_name, e->d_type);
    }
    int read_errno = errno;
    ::closedir(d);
    if (read_errno) return sys_error("copy \"" + rel + "\": read dir", read_errno);
    for (const auto& [name, type] : entries)
      TARMAC_TRY(copy_entry(src_dir, dst_dir, name.c_str(), join(rel, name.c_str())));
    --depth_;
    return ok_status();
  }

  Status copy_entry(int src_dir, int dst_dir, const char* name, const std::string& rel) {
    struct stat st;
    int flags = options_.follow_symlinks ? 0 : AT_SYMLINK_NOFOLLOW;
    if (::fstatat(src_dir, name, &st, flags) != 0) return sys_error("copy \"" + rel + "\": stat");
    auto owner = ids(st, rel);
    if (!owner.ok()) return std::move(owner).error();

    // A file seen before under another name becomes a link to its first copy.
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto it = links_.find({st.st_dev, st.st_ino});
      if (it != links_.end()) {
        if (::linkat(dst_root_fd(), it->second.c_str(), dst_dir, name, 0) != 0)
          return sys_error("copy \"" + rel + "\": link to \"" + it->second + "\"");
        return ok_status();
      }
      links_[{st.st_dev, st.st_ino}] = rel;
    }

    switch (st.st_mode & S_IFMT) {
      case S_IFDIR: {
        if (::mkdirat(dst_dir, name, 0700) != 0) return sys_error("copy \"" + rel + "\": mkdir");
        UniqueFd s(::openat(
            src_dir, name,
            O_RDONLY | O_DIRECTORY | O_CLOEXEC | (options_.follow_symlinks ? 0 : O_NOFOLLOW)));
        if (!s) return sys_error("copy \"" + rel + "\": open dir");
        UniqueFd d(::openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d) return sys_error("copy \"" + rel + "\": open new dir");
        // A mount point below the source is another filesystem: its directory is kept,
        // its content is not ours to copy.
        if (st.st_dev == root_dev_) {
          if (options_.follow_symlinks) {
            if (!active_dirs_.insert({st.st_dev, st.st_ino}).second)
              return Error("copy \"" + rel + "\": symlink loop");
          }
          TARMAC_TRY(copy_dir_content(s.get(), d.get(), rel));
          active_dirs_.erase({st.st_dev, st.st_ino});
        }
        return finish_node(s.get(), d.get(), rel, st);
      }
      case S_IFREG: {
        UniqueFd s(::openat(src_dir, name,
                            O_RDONLY | O_CLOEXEC | (options_.follow_symlinks ? 0 : O_NOFOLLOW)));
        if (!s) return sys_error("copy \"" + rel + "\": open");
        UniqueFd d(
            ::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!d) return sys_error("copy \"" + rel + "\": create");
        TARMAC_TRY(copy_data(s.get(), d.get(), st.st_size, rel));
        return finish_node(s.get(), d.get(), rel, st);
      }
      case S_IFLNK: {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(src_dir, name, target.data(), target.size());
        if (n < 0) return sys_error("copy \"" + rel + "\": readlink");
        target.resize(static_cast<size_t>(n));
        if (::symlinkat(target.c_str(), dst_dir, name) != 0)
          return sys_error("copy \"" + rel + "\": symlink");
        return finish_at(src_dir, dst_dir, name, rel, st);
      }
      default:  // fifos, sockets, devices
        if (::mknodat(dst_dir, name, st.st_mode & (S_IFMT | 0600), st.st_rdev) != 0)
          return sys_error("copy \"" + rel + "\": mknod");
        return finish_at(src_dir, dst_dir, name, rel, st);
    }
  }

  int dst_root_fd() const { return dst_root_; }

 public:
  void set_dst_root(int fd) { dst_root_ = fd; }

 private:
  // One pread and its writes, advancing both offsets: how much was read (0 at the end).
  Result<size_t> read_write(int src, loff_t* in, int dst, loff_t* out, size_t want) {
    if (buffer_.empty()) buffer_.resize(1 << 20);
    ssize_t n;
    while ((n = ::pread(src, buffer_.data(), std::min(want, buffer_.size()), *in)) < 0 &&
           errno == EINTR) {
    }
    if (n < 0) return sys_error("read");
    TARMAC_TRY(fs::pwrite_all(dst, std::string_view(buffer_.data(), static_cast<size_t>(n)), *out));
    *in += n;
    *out += n;
    return static_cast<size_t>(n);
  }

  Status copy_data(int src, int dst, off_t size, const std::string& rel) {
    off_t pos = 0, end = 0;
    while (pos < size) {
      off_t data = ::lseek(src, pos, SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) break;  // only a hole up to the end
        return sys_error("copy \"" + rel + "\": seek data");
      }
      off_t hole = ::lseek(src, data, SEEK_HOLE);
      if (hole < 0) return sys_error("copy \"" + rel + "\": seek hole");
      loff_t in = data, out = data;
      while (in < hole) {
        size_t want = static_cast<size_t>(hole - in);
        ssize_t n = copy_by_reading_ ? -1 : ::copy_file_range(src, &in, dst, &out, want, 0);
        if (n < 0 && !copy_by_reading_) {
          // Between filesystems (an overlay and its own upper filesystem included) the kernel
          // will not: read and write instead, for the rest of the copy.
          if (errno != EXDEV && errno != EOPNOTSUPP && errno != ENOSYS)
            return sys_error("copy \"" + rel + "\": copy data");
          copy_by_reading_ = true;
        }
        if (copy_by_reading_) {
          auto r = read_write(src, &in, dst, &out, want);
          if (!r.ok()) return std::move(r).error().wrap("copy \"" + rel + "\": copy data");
          n = static_cast<ssize_t>(*r);
        }
        if (n < 0) return sys_error("copy \"" + rel + "\": copy data");
        if (n == 0) break;  // the file shrank meanwhile
      }
      end = out;
      pos = hole;
    }
    // A new file already has the size of what was written: only a trailing hole is left.
    if (end != size && ::ftruncate(dst, size) != 0)
      return sys_error("copy \"" + rel + "\": set size");
    return ok_status();
  }

  // Copies every xattr through `list`, `get` and `set` (the fd or the path variants).
  template <typename List, typename Get, typename Set>
  static Status copy_xattrs(const std::string& rel, List list, Get get, Set set) {
    char names[64 << 10];
    ssize_t len = list(names, sizeof names);
    if (len < 0) {
      if (errno == ENOTSUP) return ok_status();
      return sys_error("copy \"" + rel + "\": list xattrs");
    }
    std::string value;
    for (ssize_t off = 0; off < len; off += static_cast<ssize_t>(strlen(names + off)) + 1) {
      const char* key = names + off;
      ssize_t vlen = get(key, nullptr, 0);
      if (vlen >= 0) {
        value.resize(static_cast<size_t>(vlen));
        vlen = get(key, value.data(), value.size());
      }
      if (vlen < 0) return sys_error("copy \"" + rel + "\": read xattr \"" + key + "\"");
      if (set(key, value.data(), static_cast<size_t>(vlen)) != 0) {
        if (errno == ENOTSUP && std::string_view(key).rfind("system.posix_acl", 0) == 0) continue;
        return sys_error("copy \"" + rel + "\": set xattr \"" + key + "\"");
      }
    }
    return ok_status();
  }

  static Status copy_xattrs_fd(int src, int dst, const std::string& rel) {
    return copy_xattrs(
        rel, [&](char* n, size_t l) { return ::flistxattr(src, n, l); },
        [&](const char* k, void* v, size_t l) { return ::fgetxattr(src, k, v, l); },
        [&](const char* k, const void* v, size_t l) { return ::fsetxattr(dst, k, v, l, 0); });
  }

  // Owner, xattrs, mode, times of a directory or regular file open on both sides. Owner
  // before mode: chown clears setuid.
  Status finish_node(int src, int dst, const std::string& rel, const struct stat& st) {
    auto owner = ids(st, rel);
    if (!owner.ok()) return std::move(owner).error();
    if (::fchown(dst, owner->first, owner->second) != 0)
      return sys_error("copy \"" + rel + "\": chown");
    TARMAC_TRY(copy_xattrs_fd(src, dst, rel));
    if (::fchmod(dst, st.st_mode & 07777) != 0) return sys_error("copy \"" + rel + "\": chmod");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::futimens(dst, times) != 0) return sys_error("copy \"" + rel + "\": set times");
    return ok_status();
  }

  // The same for what cannot be opened (symlinks, fifos, sockets, devices).
  Status finish_at(int src_dir, int dst_dir, const char* name, const std::string& rel,
                   const struct stat& st) {
    auto owner = ids(st, rel);
    if (!owner.ok()) return std::move(owner).error();
    if (::fchownat(dst_dir, name, owner->first, owner->second, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("copy \"" + rel + "\": chown");
    TARMAC_TRY(copy_xattrs_at(src_dir, dst_dir, name, rel));
    if (!S_ISLNK(st.st_mode) && ::fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0)
      return sys_error("copy \"" + rel + "\": chmod");
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("copy \"" + rel + "\": set times");
    return ok_status();
  }

  static Status copy_xattrs_at(int src_dir, int dst_dir, const char* name, const std::string& rel) {
    // The *at xattr calls arrive in Linux 6.13; /proc/self/fd paths work everywhere.
    std::string s = "/proc/self/fd/" + std::to_string(src_dir) + "/" + name;
    std::string d = "/proc/self/fd/" + std::to_string(dst_dir) + "/" + name;
    return copy_xattrs(
        rel, [&](char* n, size_t l) { return ::llistxattr(s.c_str(), n, l); },
        [&](const char* k, void* v, size_t l) { return ::lgetxattr(s.c_str(), k, v, l); },
        [&](const char* k, const void* v, size_t l) { return ::lsetxattr(d.c_str(), k, v, l, 0); });
  }

  CopyOptions options_;
  dev_t root_dev_ = 0;
  int dst_root_ = -1;
  int depth_ = 0;
  bool copy_by_reading_ = false;  // copy_file_range refused this pair of filesystems
  std::string buffer_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::set<std::pair<dev_t, ino_t>> active_dirs_;
};

}  // namespace

Status copy_tree(const std::string& src, const std::string& dst, const CopyOptions& options) {
  UniqueFd root(::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return sys_error("copy " + src + " to " + dst);
  TreeCopier copier(options);
  copier.set_dst_root(root.get());
  return copier.copy_root(src, dst);
}

}  // namespace tarmac::baggageclaim
