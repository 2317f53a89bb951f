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

// bpm.yml as bpm-release's docs/config.md describes it. The parser is stricter than bpm's
// (unknown keys, duplicate keys and process names, negative limits and quoted booleans are
// refused) so that a typo fails at parse time with a line number instead of being ignored.

struct Volume {
  std::string path;  // in unsafe.unrestricted_volumes it may be a glob
  bool writable = false;
  bool allow_executions = false;
  bool mount_only = false;  // mount only: bpm neither creates nor chowns the directory
  bool shared = false;      // shared mount propagation; bpm ignores it on unrestricted volumes
  // "file:line" of the entry, so validate() can point at it; empty for `bpm run -v`.
  std::string origin;
};

struct Limits {
  std::optional<uint64_t> memory;  // bytes, 1..INT64_MAX ("1G", "256M" in the file)
  std::optional<uint64_t> open_files;
  std::optional<uint64_t> processes;  // at most INT64_MAX (a cgroup pids.max)
  std::optional<uint64_t> core_file_size;
};

struct Unsafe {
  bool privileged = false;
  std::vector<Volume> unrestricted_volumes;
  bool host_pid_namespace = false;
};

struct ProcessConfig {
  std::string name;
  std::string executable;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // in file order, keys unique
  std::string workdir;                                   // empty: /var/vcap/jobs/JOB
  std::string pre_start;                                 // hooks.pre_start; empty: none
  std::vector<std::string> capabilities;                 // without CAP_
  Limits limits;
  bool ephemeral_disk = false;
  bool persistent_disk = false;
  std::vector<Volume> additional_volumes;
  int shutdown_signal = SIGTERM;  // SIGTERM or SIGINT
  Unsafe unsafe;
};

struct JobConfig {
  std::vector<ProcessConfig> processes;  // at least one, names unique
};

// Parses the text of a bpm.yml. Errors name the file, the 1-based line and the key path:
// `bpm.yml:7: processes[0].limits.memory: expected a size like 1G or 256M, got "lots"`.
// Only the first YAML document is read, as bpm does.
Result<JobConfig> parse_job_config(std::string_view yaml, const std::string& filename);

// Reads and parses the file at `path`; a missing file is an error with errnum ENOENT (bpm
// list skips such jobs silently).
Result<JobConfig> load_job_config(const std::string& path);

// The rules that need the job and the BOSH root (bpm checks them on every start, stop and
// run): additional volume paths must be canonical, lie strictly inside `bosh_root` and not
// be the job's own data or store directory, which bpm mounts itself; unrestricted volume
// paths must be absolute.
Status validate(const JobConfig& config, const std::string& job, const std::string& bosh_root);

// A byte size as bpm's bytefmt reads it: a decimal number ("1", "1.5", ".5") and a unit
// B, K, M, G, T, P or E, optionally followed by B or iB, in any case; every unit is binary
// (K = 1024). A bare whole number is bytes (bpm itself refuses it). The result is truncated
// to whole bytes and must be 1..INT64_MAX.
Result<uint64_t> parse_size(std::string_view text);

}  // namespace tarmac::bpm
