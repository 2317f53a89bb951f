#include "worker/bpm/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "common/fs.h"

namespace tarmac::bpm {

Result<ProcessLock> ProcessLock::acquire(const std::string& path) {
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(path.substr(0, path.rfind('/')), 0700), "lock");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return sys_error("lock: open " + path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return sys_error("lock: flock " + path);
  }
  return ProcessLock(std::move(fd));
}

}  // namespace tarmac::bpm
