#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::runtime {

// Capability sets as bit masks (bit N = capability N), computed in the parent and applied
// in the child with raw syscalls.
struct CapabilitySet {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
  int last_cap = 40;  // /proc/sys/kernel/cap_last_cap of the host
};

// The sets for a process that asked for `names` ("NET_BIND_SERVICE" or "CAP_NET_BIND_SERVICE",
// any case): each named capability in every set, ambient included, so it survives exec as a
// non-root user; nothing else. An unknown name is an error naming it.
Result<CapabilitySet> capabilities_from_names(const std::vector<std::string>& names);

// The host kernel's highest capability number (/proc/sys/kernel/cap_last_cap), read once.
int host_last_cap();

// Docker's privileged set: every capability the kernel has.
CapabilitySet privileged_capabilities();

// Step 1, while still root in the parent credentials: drops every capability outside
// `caps.bounding` from the bounding set and sets PR_SET_KEEPCAPS so the permitted set
// survives the uid change. Raw syscalls only, errno untouched (a CLONE_VM child calls it beside
// its creator). Returns 0 or an errno.
int drop_bounding_capabilities(const CapabilitySet& caps);

// Step 2, after setresuid/setresgid: sets effective, permitted and inheritable with capset
// and raises each ambient capability. Raw syscalls only, errno untouched. Returns 0 or an errno.
int apply_capabilities(const CapabilitySet& caps);

}  // namespace tarmac::runtime
