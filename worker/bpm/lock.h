#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tarmac::bpm {

// bpm's locks: flock(LOCK_EX) on a file. The per-process one is held for a whole start, stop
// or run so that two bpm commands never work on the same process at once; a volume's while
// it is made shared (shared_volume.h).
class ProcessLock {
 public:
  // Creates the lock file's directory if needed and blocks until the lock is ours.
  static Result<ProcessLock> acquire(const std::string& path);

  ProcessLock(ProcessLock&&) = default;
  ProcessLock& operator=(ProcessLock&&) = default;

 private:
  explicit ProcessLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

}  // namespace tarmac::bpm
