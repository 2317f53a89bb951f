#pragma once

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tarmac::bpm {

// bpm.yml as bpm-release's docs/config.md describes it.
struct Volume {
  std::string path;
  bool writable = false;
  bool allow_executions = false;
  bool mount_only = false;
  bool shared = false;
};

struct Limits {
  std::optional<uint64_t> memory;  // bytes ("1G", "256M" in the file)
  std::optional<uint64_t> open_files;
  std::optional<uint64_t> processes;
  std::optional<uint64_t> core_file_size;
};

struct Unsafe {
  bool privileged = false;
  std::vector<Volume> unrestricted_volumes;  // paths may be globs
  bool host_pid_namespace = false;
};

struct ProcessConfig {
  std::string name;
  std::string executable;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // in file order
  std::string workdir;                                   // empty: /var/vcap/jobs/JOB
  std::string pre_start;                                 // hooks.pre_start
  std::vector<std::string> capabilities;
  Limits limits;
  bool ephemeral_disk = false;
  bool persistent_disk = false;
  std::vector<Volume> additional_volumes;
  int shutdown_signal = SIGTERM;  // TERM or INT
  Unsafe unsafe;
};

struct JobConfig {
  std::vector<ProcessConfig> processes;
};

// Parses bpm.yml. Errors name the file, the line and the key path:
// `bpm.yml:7: processes[0].limits.memory: expected a size like 1G or 256M, got "lots"`.
Result<JobConfig> parse_job_config(std::string_view yaml, const std::string& filename);
Result<JobConfig> load_job_config(const std::string& path);

// The rules that need the job: volume paths canonical, inside `bosh_root`, and not the
// job's own data or store dir (bpm mounts those itself).
Status validate(const JobConfig& config, const std::string& job, const std::string& bosh_root);

// "1G", "256M", "512K", "100" (bytes); binary units, as bpm's bytefmt.
Result<uint64_t> parse_size(const std::string& text);

}  // namespace tarmac::bpm
