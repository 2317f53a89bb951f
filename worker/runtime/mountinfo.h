#pragma once

#include <optional>
#include <string>

#include "common/result.h"

namespace tarmac::runtime {

// One mount point as /proc/<pid>/mountinfo describes it (proc(5)).
struct MountPoint {
  std::string path;     // unescaped
  bool shared = false;  // "shared:N" among the optional fields: in a peer group
};

// The mount at `path` in `mountinfo` (the last one stacked there), nullopt when `path` is
// not a mount point. A malformed line is an error naming its number.
Result<std::optional<MountPoint>> find_mount_point(const std::string& mountinfo,
                                                   const std::string& path);

// The same against the calling process's /proc/self/mountinfo.
Result<std::optional<MountPoint>> find_mount_point(const std::string& path);

}  // namespace tarmac::runtime
