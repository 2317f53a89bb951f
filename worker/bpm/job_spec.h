#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "worker/bpm/config.h"
#include "worker/bpm/paths.h"
#include "worker/bpm/vcap_user.h"
#include "worker/runtime/spec.h"

namespace tarmac::bpm {

// One bpm process to run: its job, its config, and what `bpm run` added on the command line.
struct JobProcess {
  std::string job;
  ProcessConfig config;
  std::vector<std::string> extra_env;  // KEY=VALUE from run -e, over the config's
};

// Makes the directories the process needs (tmp, logs, data and store when enabled, pid dir,
// additional volumes), owned by vcap as bpm does.
Status create_job_directories(const BoshPaths& paths, const JobProcess& jp, const VcapUser& vcap);

// The container bpm runs the process in: a read-only view of the host's system dirs, the
// job's own BOSH dirs, vcap (root when privileged), the host's network, the limits asked for.
Result<runtime::ContainerSpec> build_job_spec(const BoshPaths& paths, const JobProcess& jp,
                                              const VcapUser& vcap);

// The environment bpm gives the process: the config's, with bpm's defaults for TMPDIR, LANG,
// PATH and HOME where unset.
std::vector<std::string> job_environment(const BoshPaths& paths, const JobProcess& jp);

}  // namespace tarmac::bpm
