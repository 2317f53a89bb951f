#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac {

// One mount as /proc/<pid>/mountinfo describes it (proc(5)).
struct MountPoint {
  std::string path;     // unescaped
  bool shared = false;  // "shared:N" among the optional fields: in a peer group
};

// Every mount of `mountinfo`, in its order (a later one is stacked on an earlier one at the
// same path). A malformed line is an error naming its number.
Result<std::vector<MountPoint>> parse_mountinfo(const std::string& mountinfo);

// The calling process's mounts (/proc/self/mountinfo).
Result<std::vector<MountPoint>> read_mountinfo();

// The mount at `path` (the last one stacked there), nullopt when `path` is not a mount point.
Result<std::optional<MountPoint>> find_mount_point(const std::string& mountinfo,
                                                   const std::string& path);
Result<std::optional<MountPoint>> find_mount_point(const std::string& path);

}  // namespace tarmac
