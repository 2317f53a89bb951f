#pragma once

#include <string>

#include "common/result.h"
#include "worker/bpm/config.h"
#include "worker/bpm/paths.h"

namespace tarmac::bpm {

// bpm run's -v: "path[:opt,opt...]" with writable, mount_only, allow_executions, shared;
// the path follows bpm.yml's volume rules.
Result<Volume> parse_volume_flag(const std::string& flag, const BoshPaths& paths,
                                 const std::string& job);

}  // namespace tarmac::bpm
