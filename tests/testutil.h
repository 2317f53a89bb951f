#pragma once

#include <unistd.h>

#include <string>
#include <vector>

#include "common/result.h"
#include "worker/runtime/runtime.h"

namespace tarmac::testing {

bool is_root();

// A temporary directory removed (recursively, on one filesystem) when this goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "tarmac-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A busybox root filesystem made once per test process (read-mostly: tests that write to
// their rootfs make their own with runtime::make_busybox_rootfs).
const std::string& shared_busybox_rootfs();

// Everything readable from fd until EOF.
std::string read_all(int fd);

// The last `bytes` of `text` (a daemon's log in a failure message), cut at a line start.
std::string tail(const std::string& text, size_t bytes = 8192);

// Paths of the build, for tests that run the binaries.
std::string bin_dir();

// Runtime options for a test: its own run dir and cgroup parent, the built init.
runtime::RuntimeOptions test_runtime_options(const std::string& run_dir);

// Mount points under `prefix` still listed in /proc/self/mountinfo.
std::vector<std::string> mounts_under(const std::string& prefix);

// SIGKILLs every process in the cgroup parent `name` and its children (containers outlive
// the worker that made them, by design: a test takes its own down).
void kill_cgroup_members(const std::string& name);

// Removes the cgroup parent dir `name` from every hierarchy (v1) or the unified one.
void remove_cgroup_parent(const std::string& name);

// Runs a shell command on the host; returns its exit code and fills `out` with stdout.
int run_host(const std::string& command, std::string* out = nullptr);

}  // namespace tarmac::testing
