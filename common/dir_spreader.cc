#include "common/dir_spreader.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac {

Result<std::unique_ptr<DirSpreader>> DirSpreader::open(const std::string& dir, int count,
                                                       mode_t mode) {
  if (count < 1) return Error("spread directories in " + dir + ": expected 1 or more shards");
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir, mode), "spread directories");
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sys_error("spread directories: open " + dir);
  // Before the shards are made: the flag places the subdirectories made after it.
  int flags = 0;
  if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
    flags |= FS_TOPDIR_FL;
    (void)::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags);
  }
  for (int i = 0; i < count; ++i) {
    std::string shard = dir + "/s" + std::to_string(i);
    if (::mkdir(shard.c_str(), mode) != 0 && errno != EEXIST)
      return sys_error("spread directories: mkdir " + shard);
  }
  return std::unique_ptr<DirSpreader>(new DirSpreader(dir, count));
}

std::string DirSpreader::next() {
  unsigned i = next_.fetch_add(1, std::memory_order_relaxed) % static_cast<unsigned>(count_);
  return dir_ + "/s" + std::to_string(i);
}

}  // namespace tarmac
