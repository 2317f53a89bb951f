#include "worker/bpm/job_runtime.h"

#include <cerrno>

namespace tarmac::bpm {

Result<runtime::RuntimePtr> open_runtime(const BoshPaths& paths) {
  runtime::RuntimeOptions options;
  options.run_dir = paths.runtime_dir();
  // One cgroup parent per BOSH root, so a test's root never touches the real one's.
  options.cgroup_parent = paths.cgroup_parent();
  return runtime::make_runtime(options);
}

Result<ProcessConfig> load_process(const BoshPaths& paths, const Target& t) {
  std::string file = paths.job_config(t.job);
  auto job = load_job_config(file);
  if (!job) return std::move(job).error().wrap("failed to parse job configuration");
  TARMAC_RETURN_IF_ERROR(validate(*job, t.job, paths.root()), "invalid job configuration " + file);
  for (const ProcessConfig& p : job->processes)
    if (p.name == t.process) return p;
  return Error("process \"" + t.process + "\" not present in job configuration (" + file + ")");
}

const char* state_name(ProcessStatus::State s) {
  switch (s) {
    case ProcessStatus::State::kRunning:
      return "running";
    case ProcessStatus::State::kFailed:
      return "failed";
    case ProcessStatus::State::kCreating:
      return "creating";
    case ProcessStatus::State::kStopped:
      break;
  }
  return "stopped";
}

Result<ProcessStatus> stat_process(runtime::Runtime& rt, const std::string& container_id) {
  ProcessStatus st;
  auto found = rt.find(container_id);
  if (!found) {
    if (found.error().errnum() == ENOENT) return st;
    if (found.error().errnum() == EAGAIN) {
      st.state = ProcessStatus::State::kCreating;
      return st;
    }
    return std::move(found).error();
  }
  auto ended = (*found)->poll();
  if (!ended) return std::move(ended).error();
  st.state = ended->has_value() ? ProcessStatus::State::kFailed : ProcessStatus::State::kRunning;
  st.pid = (*found)->init_pid();
  st.container = std::move(*found);
  return st;
}

}  // namespace tarmac::bpm
