#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tarmac::runtime {

// What /proc/<pid>/stat says about a process: enough to tell it from a later one that got
// the same pid, and whether it is still running.
struct ProcStat {
  char state = '?';  // R, S, D, Z, ...
  pid_t ppid = 0;
  uint64_t start_time = 0;  // clock ticks since boot
};

// nullopt when no process has that pid.
Result<std::optional<ProcStat>> read_proc_stat(pid_t pid);

// The calling process's start time, read once per process (a forked child reads its own).
// 0 if /proc cannot say.
uint64_t own_start_time();

// True when `pid` is the process that started at `start_time` and has not ended (a zombie
// has ended).
bool process_alive(pid_t pid, uint64_t start_time);

// A pidfd for `pid`, checked against `start_time` so it cannot name a reused pid. An empty
// fd when the process is gone.
Result<UniqueFd> open_pidfd(pid_t pid, uint64_t start_time);

// Waits until the pidfd's process ends or `timeout` passes (nullopt: forever). True if ended.
Result<bool> wait_pidfd(int pidfd, std::optional<std::chrono::milliseconds> timeout);

}  // namespace tarmac::runtime
