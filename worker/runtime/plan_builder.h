#pragma once

#include "common/result.h"
#include "worker/runtime/child_plan.h"
#include "worker/runtime/spec.h"

namespace tarmac::runtime {

// Checks the spec and turns it into the child's plan: the standard mounts, the spec's
// mounts, the exec candidates along PATH and the capability sets. Fds are left for the
// caller to fill in. Errors name the spec field.
Result<ChildPlan> build_child_plan(const ContainerSpec& spec, const SeccompProgram& seccomp);

// Fills the plan's process fields (exec candidates, argv, env, cwd, ids, capabilities,
// seccomp, rlimits) from `process` and the container's security settings.
Status plan_process(ChildPlan& plan, const Process& process,
                    const std::vector<std::string>& capabilities, bool privileged, bool use_seccomp,
                    const SeccompProgram& seccomp);

}  // namespace tarmac::runtime
