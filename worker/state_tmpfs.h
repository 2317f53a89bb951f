#pragma once

#include <string>

#include "common/result.h"

namespace tarmac {

// Puts a tmpfs on `dir` (made 0700 if missing) for the runtime's container state, which lives
// exactly as long as the containers it describes: the mount outlives a worker's restart (kill
// -9 included) and goes with a reboot, as the containers do; and a create or destroy costs no
// journaled metadata writes. Left as it is when `dir` is a mount point already (a restarted
// worker's) or holds directories (container state a worker kept on disk, which a mount would
// hide).
enum class StateDir { kMounted, kAlreadyMounted, kKeptOnDisk };
Result<StateDir> mount_state_tmpfs(const std::string& dir);

}  // namespace tarmac
