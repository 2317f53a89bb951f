#pragma once

#include <string>
#include <utility>

#include "common/result.h"

namespace tarmac::bpm {

// bpm's layout under the BOSH root (/var/vcap, or $BPM_BOSH_ROOT). Every method returns the
// host path; the process sees the same BOSH dirs under /var/vcap (inside()).
class BoshPaths {
 public:
  explicit BoshPaths(std::string root) : root_(std::move(root)) {}
  // $BPM_BOSH_ROOT when set, else /var/vcap.
  static BoshPaths from_env();

  const std::string& root() const { return root_; }
  // The path a process sees for a host path under the root.
  std::string inside(const std::string& host_path) const;

  std::string jobs_dir() const { return root_ + "/jobs"; }
  std::string job_dir(const std::string& job) const { return jobs_dir() + "/" + job; }
  std::string job_config(const std::string& job) const { return job_dir(job) + "/config/bpm.yml"; }
  std::string packages_dir() const { return root_ + "/packages"; }
  std::string data_packages_dir() const { return root_ + "/data/packages"; }
  std::string data_dir(const std::string& job) const { return root_ + "/data/" + job; }
  std::string store_dir(const std::string& job) const { return root_ + "/store/" + job; }
  std::string tmp_dir(const std::string& job) const { return data_dir(job) + "/tmp"; }
  std::string log_dir(const std::string& job) const { return root_ + "/sys/log/" + job; }
  std::string stdout_log(const std::string& job, const std::string& proc) const {
    return log_dir(job) + "/" + proc + ".stdout.log";
  }
  std::string stderr_log(const std::string& job, const std::string& proc) const {
    return log_dir(job) + "/" + proc + ".stderr.log";
  }
  std::string bpm_log(const std::string& job) const { return log_dir(job) + "/bpm.log"; }
  std::string pid_dir(const std::string& job) const { return root_ + "/sys/run/bpm/" + job; }
  std::string pid_file(const std::string& job, const std::string& proc) const {
    return pid_dir(job) + "/" + proc + ".pid";
  }
  std::string lock_file(const std::string& job, const std::string& proc) const;
  // "bpm" for /var/vcap; "bpm-<last path element>" for another root.
  std::string cgroup_parent() const;
  std::string runtime_dir() const { return root_ + "/data/bpm/runtime"; }
  std::string rootfs_dir(const std::string& job, const std::string& proc) const {
    return root_ + "/data/bpm/bundles/" + job + "/" + proc + "/rootfs";
  }

 private:
  std::string root_;
};

// bpm's container id: "bpm-" + job (or job.proc), each byte outside [A-Za-z0-9_-] as ".xx".
std::string container_id(const std::string& job, const std::string& proc);
// The job (or job.proc) name of a container id.
Result<std::string> decode_container_id(const std::string& id);

}  // namespace tarmac::bpm
