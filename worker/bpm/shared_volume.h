#pragma once

#include <string>

#include "common/result.h"
#include "worker/bpm/paths.h"

namespace tarmac::bpm {

// The lock bpm holds while it makes a volume shared: flock on
// `<locks>/vol-<sha256 of the path, hex>.lock`, so that two jobs sharing a volume never make
// it a mount point at once.
std::string volume_lock_file(const BoshPaths& paths, const std::string& volume);

// Makes `volume` a shared mount point on the host, as bpm does before starting a job that
// lists it `shared`: bound onto itself unless it already is a mount point, then MS_SHARED.
// Containers bind it in the same peer group, so mounts made under it by one job are seen by
// every other and by the host. bpm never unmounts it (its docs leave that to post-stop).
Status make_volume_shared(const BoshPaths& paths, const std::string& volume);

}  // namespace tarmac::bpm
