#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::runtime {

// Refuses a name that is empty, absolute or has "." or ".." parts: it would reach a cgroup
// outside the container's (the root's processes are the host's).
Status check_cgroup_name(const std::string& name);

// " 12 34 56": pids for an error message.
std::string pid_list(const std::vector<pid_t>& pids);

// Pids listed in a cgroup.procs file.
Result<std::vector<pid_t>> read_pids(const std::string& procs_file);

// The value of `key` in a "key value" per line file (memory.events, memory.oom_control).
Result<uint64_t> read_keyed(const std::string& file, const std::string& key);

// Writes each of `lines` to `file` with a write(2) of its own through one descriptor: the
// kernel takes one rule per write in files like devices.allow.
Status write_each(const std::string& file, const std::vector<const char*>& lines);

// rmdir that retries while the kernel still counts exiting tasks (EBUSY); ENOENT is done.
Status remove_cgroup_dir(const std::string& dir);

// SIGKILLs every pid in `procs_file` until it reads empty, for at most `limit`.
Status kill_until_empty(const std::string& procs_file, std::chrono::milliseconds limit);

}  // namespace tarmac::runtime
