#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <map>
#include <vector>

namespace tarmac::runtime {

// What a filter answers one syscall number.
enum class SyscallVerdict : uint8_t {
  kDeny,                    // the filter's errno
  kAllow,                   //
  kAllowWithoutNamespaces,  // allowed when args[0] holds none of the namespace flags (clone)
  kEnosys,                  // ENOSYS, so that a libc falls back to an older call (clone3)
};

struct ArchRules {
  uint32_t audit_arch = 0;                           // AUDIT_ARCH_*
  std::map<uint32_t, SyscallVerdict> syscalls = {};  // numbers not here: kDeny
};

// A seccomp program that decides by binary search over ranges of syscall numbers with the same
// verdict. An allowlist is mostly long runs of allowed numbers (x86_64's ~300 allowed calls make
// 29 runs), so this is a third to a half of libseccomp's tree of single numbers: the kernel
// checks, converts and JITs a program at every load, once per container and per process run in
// one, and each syscall walks a shallower tree. An architecture not listed is killed.
std::vector<sock_filter> build_range_tree_filter(const std::vector<ArchRules>& arches,
                                                 uint32_t namespace_flags, int deny_errno);

}  // namespace tarmac::runtime
