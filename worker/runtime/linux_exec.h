#pragma once

#include "tarmac/runtime/v1/state.pb.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/runtime.h"
#include "worker/runtime/seccomp.h"

namespace tarmac::runtime {

// Starts `process` in the running container described by `state`: its namespaces (joined
// through init's /proc/<pid>/ns), its cgroup, its capabilities and seccomp filter.
Result<ExecutedProcessPtr> exec_in_container(const v1::ContainerState& state, Cgroup* cgroup,
                                             const SeccompProgram& seccomp, const Process& process,
                                             const StdioConfig& stdio);

}  // namespace tarmac::runtime
