#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tarmac::baggageclaim {

// Adds `delta` to the owner and group of everything under `dir` (itself included), keeping
// setuid/setgid bits that chown clears. Stays on dir's filesystem, follows no symlink. The
// fallback for moving a volume between privileged and unprivileged without idmapped mounts.
Status shift_ids(const std::string& dir, int64_t delta);

}  // namespace tarmac::baggageclaim
