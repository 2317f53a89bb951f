#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tarmac::runtime {

// One mount inside the container. Destinations are paths inside the container; they are
// resolved inside the rootfs, so a symlink in an image can never point a mount at the host.
struct Mount {
  enum class Type { kBind, kTmpfs };
  Type type = Type::kBind;
  std::string source;       // host path (bind); ignored for tmpfs
  std::string destination;  // absolute path in the container
  bool readonly = false;
  bool noexec = false;
  bool nosuid = true;
  bool nodev = true;
  bool recursive = true;  // rbind
  // Bind: join the source's peer group, so that mounts made under it on either side appear
  // on the other (bpm's `shared`). The source must be a shared mount point.
  bool shared = false;
  std::string data;  // tmpfs options ("size=64m,mode=1777")
};

// A uid or gid mapping line of /proc/<pid>/uid_map.
struct IdMap {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_CORE, ...
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct CgroupLimits {
  std::optional<int64_t> memory_bytes;  // hard limit; swap is always off
  std::optional<int64_t> pids_max;
  std::optional<uint64_t> cpu_shares;  // Garden/Concourse shares; cpu.weight on cgroup v2
  bool restrict_devices = true;        // only the standard /dev nodes (not when privileged)
};

struct Namespaces {
  bool pid = true;       // false = share the host's pid namespace (bpm host_pid_namespace)
  bool network = false;  // true = a private network namespace with only loopback up
  bool user = false;     // true = a user namespace with uid_map/gid_map below
};

// What the main process runs as and with.
struct Process {
  std::vector<std::string> args;  // args[0] is the executable (absolute, or looked up in PATH)
  std::vector<std::string> env;   // KEY=VALUE
  std::string cwd = "/";
  uid_t uid = 0;  // inside the container
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
};

struct ContainerSpec {
  std::string id;  // [A-Za-z0-9_.-]+, unique under the runtime's run dir

  // The root filesystem: a directory that becomes "/" (pivot_root).
  std::string rootfs;
  bool rootfs_readonly = false;

  // proc, a private /dev (tmpfs with null, zero, full, random, urandom, tty, devpts, shm,
  // mqueue) and a read-only /sys, mounted before `mounts`.
  bool standard_mounts = true;
  std::vector<Mount> mounts;  // applied in order after the standard ones

  // Paths hidden from the container (files become /dev/null, directories an empty
  // read-only tmpfs) and paths remounted read-only. Ignored when privileged.
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;

  Namespaces namespaces;
  std::vector<IdMap> uid_map;  // with namespaces.user
  std::vector<IdMap> gid_map;
  std::string hostname;  // empty: keep the host's (bpm); task containers set their own

  Process process;
  // false: no main process; init alone holds the container until it is stopped (Garden's
  // model, which the worker uses) and every process comes in by exec. `process` is ignored.
  bool main_process = true;

  // Capability names without "CAP_" ("NET_BIND_SERVICE"); none by default. Privileged
  // containers get Docker's privileged set and no seccomp filter.
  std::vector<std::string> capabilities;
  bool privileged = false;
  bool seccomp = true;  // the default allowlist; forced off when privileged

  std::vector<Rlimit> rlimits;
  CgroupLimits limits;

  // stop(): this signal, then SIGKILL after the grace period.
  int stop_signal = SIGTERM;
};

// The masked and read-only /proc and /sys paths bpm and runc apply by default.
std::vector<std::string> default_masked_paths();
std::vector<std::string> default_readonly_paths();

}  // namespace tarmac::runtime
