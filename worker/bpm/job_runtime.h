#pragma once

#include <string>

#include "common/result.h"
#include "worker/bpm/commands.h"
#include "worker/bpm/config.h"
#include "worker/runtime/runtime.h"

namespace tarmac::bpm {

// The runtime bpm's containers live in: state under the BOSH data dir, cgroups under "bpm".
Result<runtime::RuntimePtr> open_runtime(const BoshPaths& paths);

// The job's bpm.yml, checked, and the named process in it.
Result<ProcessConfig> load_process(const BoshPaths& paths, const Target& t);

// bpm's three states: no container; a container whose process runs; one whose process ended.
struct ProcessStatus {
  enum class State { kStopped, kCreating, kRunning, kFailed };
  State state = State::kStopped;
  pid_t pid = 0;
  runtime::ContainerPtr container;  // unless stopped
};
const char* state_name(ProcessStatus::State s);

Result<ProcessStatus> stat_process(runtime::Runtime& rt, const std::string& container_id);

}  // namespace tarmac::bpm
