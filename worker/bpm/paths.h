#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace tarmac::bpm {

// The BOSH root bpm works in when $BPM_BOSH_ROOT is unset, and the one a process always
// sees: a test root elsewhere on the host is mounted at the same paths under /var/vcap.
inline constexpr std::string_view kDefaultBoshRoot = "/var/vcap";

// bpm's layout under a BOSH root. Every method returns the host path; inside() gives the
// path the process sees. Names are used as given: callers pass job and process names that
// came from the jobs directory or bpm.yml.
class BoshPaths {
 public:
  // `root` is cleaned lexically (clean_path), so "/tmp/root/" and "/tmp/root" agree.
  explicit BoshPaths(std::string_view root);
  // $BPM_BOSH_ROOT when set and not empty, else /var/vcap (bpm's bosh.NewEnv).
  static BoshPaths from_env();

  const std::string& root() const { return root_; }
  // The path a process sees for a host path under the root; other paths are unchanged.
  std::string inside(const std::string& host_path) const;

  // Read-only, executable in the container.
  std::string jobs_dir() const { return root_ + "/jobs"; }
  std::string job_dir(const std::string& job) const { return jobs_dir() + "/" + job; }
  std::string job_config(const std::string& job) const { return job_dir(job) + "/config/bpm.yml"; }
  std::string packages_dir() const { return root_ + "/packages"; }
  std::string data_packages_dir() const { return root_ + "/data/packages"; }

  // Writable, created by bpm for the job and shared by all its processes.
  std::string data_dir(const std::string& job) const { return root_ + "/data/" + job; }
  std::string store_dir(const std::string& job) const { return root_ + "/store/" + job; }
  std::string tmp_dir(const std::string& job) const { return data_dir(job) + "/tmp"; }
  std::string log_dir(const std::string& job) const { return root_ + "/sys/log/" + job; }
  // bpm creates it before every start (its "socket dir") but does not mount it.
  std::string run_dir(const std::string& job) const { return root_ + "/sys/run/" + job; }

  std::string stdout_log(const std::string& job, const std::string& proc) const {
    return log_dir(job) + "/" + proc + ".stdout.log";
  }
  std::string stderr_log(const std::string& job, const std::string& proc) const {
    return log_dir(job) + "/" + proc + ".stderr.log";
  }
  std::string bpm_log(const std::string& job) const { return log_dir(job) + "/bpm.log"; }

  // What monit watches; the directory is 0700.
  std::string pid_dir(const std::string& job) const { return root_ + "/sys/run/bpm/" + job; }
  std::string pid_file(const std::string& job, const std::string& proc) const {
    return pid_dir(job) + "/" + proc + ".pid";
  }

  // bpm's host locks (dir 0700): one per job process, held across start, stop and run.
  std::string locks_dir() const { return root_ + "/data/bpm/locks"; }
  // "job-" + the container id of "JOB.PROC", even when PROC is JOB, as bpm's hostlock names
  // it; so web's lone process locks job-bpm-web.2eweb.lock while its container is bpm-web.
  std::string lock_file(const std::string& job, const std::string& proc) const;

  // Container state, beside bpm's runc state (sys/run/bpm-runc): sys/run is a tmpfs on BOSH
  // VMs, so the state lives exactly as long as the containers it describes, and costs no
  // disk writes on every start and stop.
  std::string runtime_dir() const { return root_ + "/sys/run/bpm-runtime"; }
  // Bundles (root filesystems of bind mounts).
  std::string bundle_dir(const std::string& job, const std::string& proc) const {
    return root_ + "/data/bpm/bundles/" + job + "/" + proc;
  }
  std::string rootfs_dir(const std::string& job, const std::string& proc) const {
    return bundle_dir(job, proc) + "/rootfs";
  }

  // The cgroup parent of this root's containers: "bpm" for /var/vcap, else "bpm-" and the
  // escaped last element of the root, so a test root never touches the real one's.
  std::string cgroup_parent() const;

 private:
  std::string root_;
};

// bpm's container id: "bpm-" and the job name, or "JOB.PROC" when the process is not named
// after the job, with every byte outside [A-Za-z0-9_-] written as '.' and two lowercase hex
// digits ("web.worker" -> "bpm-web.2eworker"), which makes any name a valid runc id.
std::string container_id(const std::string& job, const std::string& proc);

// The inverse, for `bpm list`: "bpm-web.2eworker" -> "web.worker". Since '.' is itself
// escaped, job and process cannot be told apart again; bpm prints the joined name.
Result<std::string> decode_container_id(std::string_view id);

// `path` with repeated and trailing slashes, "." and ".." resolved lexically, as Go's
// filepath.Clean (which bpm's "canonical" volume rule compares with): "" becomes ".".
std::string clean_path(std::string_view path);

}  // namespace tarmac::bpm
