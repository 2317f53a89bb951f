#pragma once

#include <memory>
#include <string>

#include "worker/runtime/cgroup.h"
#include "worker/runtime/runtime.h"
#include "worker/runtime/seccomp.h"
#include "worker/runtime/state_store.h"

namespace tarmac::runtime {

// A container known by its state: init's pid and start time, its cgroup, its exit file.
// Works the same for the process that created it and for one that found it after a restart.
class LinuxContainer final : public Container {
 public:
  LinuxContainer(const StateStore& store, const SeccompProgram& seccomp, v1::ContainerState state,
                 CgroupPtr cgroup);

  const std::string& id() const override { return state_.id(); }
  pid_t init_pid() const override { return state_.init_pid(); }
  Result<ExitStatus> wait() override;
  Result<std::optional<ExitStatus>> poll() override;
  Status signal(int sig) override;
  Result<ExitStatus> stop(std::chrono::milliseconds grace) override;
  Status destroy() override;
  Result<ExecutedProcessPtr> exec(const Process& process, const StdioConfig& stdio) override;

 private:
  // Waits up to `timeout` (nullopt: forever) for init to end; true once it has.
  Result<bool> wait_init(std::optional<std::chrono::milliseconds> timeout);
  // The final status once init has ended: its record, or SIGKILL if it died unrecorded.
  Result<ExitStatus> ended_status();
  void reap();
  Status kill_everything();

  const StateStore& store_;
  const SeccompProgram& seccomp_;
  v1::ContainerState state_;
  CgroupPtr cgroup_;
  std::optional<int> reaped_status_;
};

}  // namespace tarmac::runtime
