#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "worker/runtime/spec.h"

namespace tarmac::runtime {

// One container's cgroup: a directory in the unified hierarchy (v2), or one directory per
// controller hierarchy (v1: memory, pids, cpu, freezer, devices).
class Cgroup {
 public:
  virtual ~Cgroup() = default;

  // Writes the limits. Memory always comes with swap off (v1 memory.memsw.limit_in_bytes
  // equal to the limit where swap accounting exists; v2 memory.swap.max = 0).
  virtual Status apply(const CgroupLimits& limits) = 0;
  // Moves `pid` into the cgroup (every hierarchy on v1).
  virtual Status add_process(pid_t pid) = 0;
  // Pids in the cgroup (from cgroup.procs).
  virtual Result<std::vector<pid_t>> processes() = 0;
  // How many times the kernel's OOM killer has killed a process here.
  virtual Result<uint64_t> oom_kills() = 0;
  // SIGKILLs every process until none is left (v2 cgroup.kill where the kernel has it;
  // otherwise freeze, kill, thaw, repeat).
  virtual Status kill_all() = 0;
  // Removes the cgroup's directories; they must hold no process.
  virtual Status destroy() = 0;
  // The directories (one on v2, one per hierarchy on v1), for messages and tests.
  virtual std::vector<std::string> paths() const = 0;
};
using CgroupPtr = std::unique_ptr<Cgroup>;

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;

  // "v1" or "v2".
  virtual std::string version() const = 0;
  // Creates the cgroup `name` ("tarmac/<id>"), with its parents and the controllers they need
  // enabled. An existing cgroup of that name is reused.
  virtual Result<CgroupPtr> create(const std::string& name) = 0;
  // An existing cgroup, without creating anything; an error if it does not exist.
  virtual Result<CgroupPtr> open(const std::string& name) = 0;
};
using CgroupDriverPtr = std::unique_ptr<CgroupDriver>;

// Picks v2 when `root` is a cgroup2 mount (or, for tests, a plain directory holding
// cgroup.controllers), v1 when it holds per-controller hierarchies.
Result<CgroupDriverPtr> detect_cgroup_driver(const std::string& root = "/sys/fs/cgroup");

Result<CgroupDriverPtr> make_cgroup_v1_driver(const std::string& root);
Result<CgroupDriverPtr> make_cgroup_v2_driver(const std::string& root);

}  // namespace tarmac::runtime
