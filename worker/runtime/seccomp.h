#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::runtime {

// A compiled seccomp-BPF program, built in the parent (libseccomp allocates) and loaded in
// the child between fork and exec, where only async-signal-safe calls are allowed.
class SeccompProgram {
 public:
  SeccompProgram() = default;
  explicit SeccompProgram(std::vector<sock_filter> filter) : filter_(std::move(filter)) {}

  bool empty() const { return filter_.empty(); }
  // Loads the program into the calling thread (with SECCOMP_FILTER_FLAG_TSYNC off). Needs
  // no_new_privs or CAP_SYS_ADMIN. Async-signal-safe, and leaves errno alone. Returns 0 or an
  // errno.
  int load() const;
  const std::vector<sock_filter>& filter() const { return filter_; }

 private:
  std::vector<sock_filter> filter_;
};

// The default allowlist, after bpm's and Garden's: everything a normal program needs;
// errno EPERM for the rest (mount, unshare, setns, keyctl, add_key, request_key, ptrace,
// kexec_load, bpf, perf_event_open, init_module, ...); clone allowed only without
// namespace flags; clone3 answered with ENOSYS so libcs fall back to clone.
Result<SeccompProgram> build_default_seccomp();

// The same profile compiled by libseccomp (a tree of single syscall numbers, ~2.5 times as long):
// the reference the compact program above is held to in the tests.
Result<SeccompProgram> build_default_seccomp_with_libseccomp();

// The default profile compiled once into a file, and read back: compiling it takes
// milliseconds that a short-lived caller (the worker's per-process shim) should not pay.
Status write_default_seccomp(const std::string& path);
Result<SeccompProgram> read_seccomp(const std::string& path);

}  // namespace tarmac::runtime

namespace tarmac::runtime {

// The syscall names the default profile allows (for writing the same profile into an OCI
// config.json for runc and crun in the benchmark).
std::vector<std::string> default_seccomp_allowlist();

}  // namespace tarmac::runtime
