#include "worker/runtime/capabilities.h"

#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/fs.h"
#include "worker/runtime/raw_syscall.h"

namespace tarmac::runtime {
int host_last_cap() {
  // Read once: the kernel's answer never changes, and a shim forked after the first read
  // inherits it instead of paying for the file (and, with iostreams, their set-up) again.
  static const int last = [] {
    auto text = fs::read_file("/proc/sys/kernel/cap_last_cap");
    int v = text ? std::atoi(text->c_str()) : 0;
    return v > 0 && v < 64 ? v : CAP_LAST_CAP;
  }();
  return last;
}

Result<CapabilitySet> capabilities_from_names(const std::vector<std::string>& names) {
  CapabilitySet caps;
  caps.last_cap = host_last_cap();
  for (const std::string& name : names) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower.rfind("cap_", 0) != 0) lower = "cap_" + lower;
    cap_value_t value;
    if (cap_from_name(lower.c_str(), &value) != 0 || value < 0 || value > caps.last_cap)
      return Error("capability \"" + name + "\": unknown; expected a name like NET_BIND_SERVICE");
    uint64_t bit = 1ULL << value;
    caps.bounding |= bit;
    caps.effective |= bit;
    caps.permitted |= bit;
    caps.inheritable |= bit;
    caps.ambient |= bit;
  }
  return caps;
}

CapabilitySet privileged_capabilities() {
  // As Docker's --privileged: every capability the caller may hand on (its bounding set; a
  // host may withhold some even from root) in every set but ambient; the process runs as
  // root, which keeps them across exec without ambient.
  CapabilitySet caps;
  caps.last_cap = host_last_cap();
  uint64_t all = 0;
  for (int cap = 0; cap <= caps.last_cap && cap < 64; ++cap)
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) all |= 1ULL << cap;
  caps.bounding = caps.effective = caps.permitted = caps.inheritable = all;
  return caps;
}

int drop_bounding_capabilities(const CapabilitySet& caps) {
  for (int cap = 0; cap <= caps.last_cap; ++cap) {
    if (caps.bounding & (1ULL << cap)) continue;
    long r = raw_syscall(SYS_prctl, PR_CAPBSET_DROP, cap);
    if (r < 0 && r != -EINVAL) return static_cast<int>(-r);
  }
  long r = raw_syscall(SYS_prctl, PR_SET_KEEPCAPS, 1);
  return r < 0 ? static_cast<int>(-r) : 0;
}

int apply_capabilities(const CapabilitySet& caps) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> (32 * i));
  }
  long r = raw_syscall(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(data));
  if (r == 0) r = raw_syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  for (int cap = 0; r == 0 && cap <= caps.last_cap; ++cap)
    if (caps.ambient & (1ULL << cap))
      r = raw_syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap);
  return r < 0 ? static_cast<int>(-r) : 0;
}

}  // namespace tarmac::runtime
