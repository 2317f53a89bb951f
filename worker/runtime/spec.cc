#include "worker/runtime/spec.h"

namespace tarmac::runtime {

std::vector<std::string> default_masked_paths() {
  return {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
          "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
          "/proc/scsi",          "/sys/firmware"};
}

std::vector<std::string> default_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

}  // namespace tarmac::runtime
