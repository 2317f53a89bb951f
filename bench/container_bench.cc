// Container start latency and idle memory: tarmac's in-process runtime against crun and runc,
// each running /bin/true in a fully isolated container (pid, mount, uts, ipc and network
// namespaces, cgroup limits, the default seccomp filter, no capabilities, masked paths,
// read-only rootfs). Run as root; see bench/README.md.
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "common/fs.h"
#include "common/unique_fd.h"
#include "worker/runtime/busybox_rootfs.h"
#include "worker/runtime/runtime.h"
#include "worker/runtime/seccomp.h"
#include "worker/runtime/spec.h"

namespace tarmac::bench {
namespace {

namespace rt = tarmac::runtime;

constexpr char kCgroupParent[] = "tarmac-bench";
constexpr int64_t kMemoryBytes = int64_t{256} << 20;
constexpr int64_t kPids = 128;
constexpr uint64_t kCpuShares = 512;

// The targets of the issue this benchmark answers.
constexpr double kTargetMedianMs = 5.0;
constexpr double kTargetCrunRatio = 4.0;
constexpr double kTargetIdleKiB = 1024.0;

struct Flags {
  int iterations = 200;
  int idle = 20;
  int warmup = 3;
  bool skip_crun = false;
  bool skip_runc = false;
  bool interleave = false;
};

// Everything the benchmark made, so that cleanup() can take it down on any exit path.
struct State {
  std::string temp_dir;
  std::string state_dir;  // the tmpfs holding every runtime's state (see main)
  rt::RuntimePtr runtime;
  // OCI runtimes that ran: binary, --root state dir, and the mount namespace they run in (or
  // -1 for the bench's own).
  struct OciRoot {
    std::string binary;
    std::string root;
    int mnt_ns = -1;
  };
  std::vector<OciRoot> oci_roots;
  UniqueFd crun_mnt_ns;  // see crun_mount_namespace()
};
State g_state;
volatile sig_atomic_t g_interrupted = 0;

// fork/exec of `argv` with stdin and stdout on /dev/null and stderr on `stderr_fd`, inside the
// mount namespace `mnt_ns` unless it is -1; returns the wait status, or -1 with errno set.
int spawn_and_wait(const std::vector<std::string>& argv, int null_fd, int stderr_fd,
                   int mnt_ns = -1) {
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::dup2(null_fd, 0);
    ::dup2(null_fd, 1);
    ::dup2(stderr_fd, 2);
    if (mnt_ns >= 0 && ::setns(mnt_ns, CLONE_NEWNS) != 0) {
      constexpr char kMessage[] = "container_bench: setns into the tool's mount namespace failed\n";
      ssize_t ignored = ::write(2, kMessage, sizeof kMessage - 1);
      (void)ignored;
      ::_exit(126);
    }
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return status;
}

void remove_cgroup_tree(const std::string& dir) {
  auto children = fs::list_dir(dir);
  if (!children) return;
  for (const std::string& name : *children) {
    struct stat st;
    std::string path = dir + "/" + name;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) remove_cgroup_tree(path);
  }
  // A process left in the cgroup (a container half set up when we were interrupted) keeps
  // rmdir failing with EBUSY; kill it and retry for a moment.
  for (int attempt = 0; attempt < 50 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt) {
    if (auto procs = fs::read_file(dir + "/cgroup.procs"); procs) {
      std::istringstream in(*procs);
      for (pid_t pid; in >> pid;) ::kill(pid, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void cleanup() {
  if (g_state.runtime) {
    if (auto ids = g_state.runtime->list(); ids) {
      for (const std::string& id : *ids) {
        auto c = g_state.runtime->find(id);
        if (!c) continue;
        if (auto s = (*c)->destroy(); !s)
          std::fprintf(stderr, "cleanup: destroy %s: %s\n", id.c_str(), s.error().what().c_str());
      }
    }
    g_state.runtime.reset();
  }
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  for (const auto& oci : g_state.oci_roots) {
    auto ids = fs::list_dir(oci.root);
    if (!ids) continue;
    for (const std::string& id : *ids) {
      std::vector<std::string> argv = {oci.binary, "--root", oci.root, "delete", "--force", id};
      if (spawn_and_wait(argv, null_fd.get(), null_fd.get(), oci.mnt_ns) != 0)
        std::fprintf(stderr, "cleanup: %s delete %s failed\n", oci.binary.c_str(), id.c_str());
    }
  }
  g_state.oci_roots.clear();
  g_state.crun_mnt_ns.reset();
  if (auto hierarchies = fs::list_dir("/sys/fs/cgroup"); hierarchies) {
    remove_cgroup_tree(std::string("/sys/fs/cgroup/") + kCgroupParent);
    for (const std::string& h : *hierarchies)
      remove_cgroup_tree("/sys/fs/cgroup/" + h + "/" + kCgroupParent);
  }
  if (!g_state.state_dir.empty()) {
    if (::umount2(g_state.state_dir.c_str(), MNT_DETACH) != 0)
      std::fprintf(stderr, "cleanup: umount %s: %s\n", g_state.state_dir.c_str(),
                   std::strerror(errno));
    g_state.state_dir.clear();
  }
  if (!g_state.temp_dir.empty()) {
    if (auto s = fs::remove_all(g_state.temp_dir); !s)
      std::fprintf(stderr, "cleanup: %s\n", s.error().what().c_str());
    g_state.temp_dir.clear();
  }
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "container_bench: %s\n", message.c_str());
  cleanup();
  std::exit(1);
}

void check_interrupted() {
  if (g_interrupted) die("interrupted");
}

void on_signal(int) { g_interrupted = 1; }

template <typename T>
T value_or_die(Result<T> r, const std::string& context) {
  if (!r) die(context + ": " + r.error().what());
  return std::move(r).value();
}

void ok_or_die(const Status& s, const std::string& context) {
  if (!s) die(context + ": " + s.error().what());
}

void usage_and_exit(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: bench_container_bench [--iterations N] [--idle K] [--warmup W]\n"
               "                             [--skip-crun] [--skip-runc] [--interleave]\n"
               "  --iterations N  timed create/wait/destroy runs per runtime (default 200)\n"
               "  --idle K        idle `sleep 1000` containers for the memory figure (default 20;"
               " 0 skips)\n"
               "  --warmup W      untimed runs per runtime first (default 3)\n"
               "  --interleave    one run of each runtime per iteration instead of one runtime\n"
               "                  after the other\n");
  std::exit(code);
}

Flags parse_flags(int argc, char** argv) {
  Flags f;
  auto number = [&](int& i, const char* name) {
    if (i + 1 >= argc) usage_and_exit(2);
    char* end = nullptr;
    long v = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || v < 0 || v > 1000000) {
      std::fprintf(stderr, "%s: not a count: %s\n", name, argv[i]);
      std::exit(2);
    }
    return static_cast<int>(v);
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iterations") {
      f.iterations = number(i, "--iterations");
    } else if (a == "--idle") {
      f.idle = number(i, "--idle");
    } else if (a == "--warmup") {
      f.warmup = number(i, "--warmup");
    } else if (a == "--skip-crun") {
      f.skip_crun = true;
    } else if (a == "--interleave") {
      f.interleave = true;
    } else if (a == "--skip-runc") {
      f.skip_runc = true;
    } else if (a == "-h" || a == "--help") {
      usage_and_exit(0);
    } else {
      std::fprintf(stderr, "unknown flag: %s\n", a.c_str());
      usage_and_exit(2);
    }
  }
  if (f.iterations < 1) {
    std::fprintf(stderr, "--iterations must be at least 1\n");
    std::exit(2);
  }
  return f;
}

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin";
  // Root's PATH may lack the sbin dirs where Debian puts runc.
  dirs += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    std::string candidate = dir + "/" + name;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::string self_dir() {
  char exe[PATH_MAX] = {};
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) die(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
  std::string path(exe, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

std::string first_line_of(const std::string& command) {
  std::string out;
  if (FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r")) {
    char buf[256];
    if (std::fgets(buf, sizeof buf, p)) out = buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// ---- tarmac ----

rt::ContainerSpec tarmac_spec(const std::string& id, const std::string& rootfs,
                              std::vector<std::string> args) {
  rt::ContainerSpec s;
  s.id = id;
  s.rootfs = rootfs;
  s.rootfs_readonly = true;
  s.masked_paths = rt::default_masked_paths();
  s.readonly_paths = rt::default_readonly_paths();
  s.namespaces.pid = true;
  s.namespaces.network = true;
  s.process.args = std::move(args);
  s.process.env = {"PATH=/bin", "HOME=/root"};
  s.capabilities = {};
  s.seccomp = true;
  s.limits.memory_bytes = kMemoryBytes;
  s.limits.pids_max = kPids;
  s.limits.cpu_shares = kCpuShares;
  return s;
}

// One tarmac run, whole and by phase: where the time goes is the first question a miss raises.
struct TarmacSample {
  double total = 0, create = 0, wait = 0, destroy = 0;
};

// One create → wait → destroy of /bin/true; dies on any failure with the runtime's own words.
TarmacSample tarmac_once(rt::Runtime& runtime, const std::string& rootfs, const std::string& id) {
  rt::ContainerSpec spec = tarmac_spec(id, rootfs, {"/bin/true"});
  rt::StdioConfig io;
  io.mode = rt::StdioConfig::Mode::kNull;
  auto start = Clock::now();
  auto made = runtime.create(spec, io);
  auto created = Clock::now();
  if (!made) die("tarmac: " + made.error().what());
  auto status = made->container->wait();
  auto waited = Clock::now();
  if (!status) die("tarmac: wait " + id + ": " + status.error().what());
  auto destroyed = made->container->destroy();
  auto end = Clock::now();
  if (!destroyed) die("tarmac: destroy " + id + ": " + destroyed.error().what());
  if (!status->success()) die("tarmac: /bin/true in " + id + " " + status->describe());
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  return {ms(end - start), ms(created - start), ms(waited - created), ms(end - waited)};
}

struct TarmacResult {
  Stats total, create, wait, destroy;
};

struct TarmacSamples {
  std::vector<double> total, create, wait, destroy;

  void add(const TarmacSample& s) {
    total.push_back(s.total);
    create.push_back(s.create);
    wait.push_back(s.wait);
    destroy.push_back(s.destroy);
  }
  TarmacResult stats() const {
    return {stats_of(total), stats_of(create), stats_of(wait), stats_of(destroy)};
  }
};

struct ProcMemory {
  int64_t pss_kib = -1;  // -1 where smaps_rollup is unavailable
  int64_t rss_kib = -1;
};

// The number after "<key>" at the start of a line of /proc/<pid>/status or smaps_rollup.
int64_t field_kib(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::strtoll(line.c_str() + key.size(), nullptr, 10);
  return -1;
}

ProcMemory memory_of(pid_t pid) {
  ProcMemory m;
  if (auto rollup = fs::read_file("/proc/" + std::to_string(pid) + "/smaps_rollup"); rollup) {
    m.pss_kib = field_kib(*rollup, "Pss:");
    m.rss_kib = field_kib(*rollup, "Rss:");
  }
  if (m.rss_kib < 0)
    if (auto status = fs::read_file("/proc/" + std::to_string(pid) + "/status"); status)
      m.rss_kib = field_kib(*status, "VmRSS:");
  return m;
}

struct IdleMemory {
  int count = 0;
  Stats pss, rss;
};

// K containers idling in `sleep 1000`: what stays resident per container besides the task is
// its init (pid 1), since the runtime itself lives in the caller.
IdleMemory tarmac_idle_memory(rt::Runtime& runtime, const std::string& rootfs, int count) {
  std::vector<rt::ContainerPtr> idle;
  for (int i = 0; i < count; ++i) {
    check_interrupted();
    std::string id = "idle-" + std::to_string(i);
    rt::StdioConfig io;
    io.mode = rt::StdioConfig::Mode::kNull;
    auto made = runtime.create(tarmac_spec(id, rootfs, {"sleep", "1000"}), io);
    if (!made) die("tarmac: " + made.error().what());
    idle.push_back(std::move(made->container));
  }
  // Let every init settle into its wait loop before reading its pages.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<double> pss, rss;
  for (auto& c : idle) {
    auto polled = c->poll();
    if (!polled) die("tarmac: poll " + c->id() + ": " + polled.error().what());
    if (polled->has_value()) die("tarmac: idle " + c->id() + " ended: " + (*polled)->describe());
    ProcMemory m = memory_of(c->init_pid());
    if (m.rss_kib < 0)
      die("tarmac: no memory figures for init pid " + std::to_string(c->init_pid()) + " of " +
          c->id());
    pss.push_back(static_cast<double>(m.pss_kib >= 0 ? m.pss_kib : m.rss_kib));
    rss.push_back(static_cast<double>(m.rss_kib));
  }
  for (auto& c : idle)
    if (auto s = c->destroy(); !s) die("tarmac: destroy " + c->id() + ": " + s.error().what());
  IdleMemory result;
  result.count = count;
  if (count > 0) {
    result.pss = stats_of(pss);
    result.rss = stats_of(rss);
  }
  return result;
}

// ---- OCI runtimes (crun, runc) ----

// The OCI equivalent of tarmac_spec(): same namespaces, limits, masks, mounts and syscalls.
nlohmann::json oci_config(const std::string& rootfs, const std::vector<std::string>& args,
                          const std::string& cgroups_path) {
  using nlohmann::json;
  json caps = {{"bounding", json::array()},
               {"effective", json::array()},
               {"permitted", json::array()},
               {"inheritable", json::array()},
               {"ambient", json::array()}};
  json mounts = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
  });
  json syscalls =
      json::array({{{"names", rt::default_seccomp_allowlist()}, {"action", "SCMP_ACT_ALLOW"}}});
  // tarmac answers clone3 with ENOSYS so that libcs fall back to clone (whose flags the
  // filter can inspect); the OCI default action would say EPERM, which libcs take as final.
  syscalls.push_back({{"names", {"clone3"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSYS}});
  json namespaces = json::array();
  for (const char* ns : {"pid", "mount", "uts", "ipc", "network"})
    namespaces.push_back({{"type", ns}});
  return {
      {"ociVersion", "1.0.2"},
      {"root", {{"path", rootfs}, {"readonly", true}}},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", args},
        {"env", {"PATH=/bin", "HOME=/root"}},
        {"cwd", "/"},
        {"capabilities", caps},
        {"noNewPrivileges", true}}},
      {"mounts", mounts},
      {"linux",
       {{"namespaces", namespaces},
        {"cgroupsPath", cgroups_path},
        {"resources",
         {{"memory", {{"limit", kMemoryBytes}, {"swap", kMemoryBytes}}},
          {"pids", {{"limit", kPids}}},
          {"cpu", {{"shares", kCpuShares}}},
          // Deny every device; both runtimes then add back the standard /dev nodes, as tarmac's
          // restrict_devices does.
          {"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
        {"maskedPaths", rt::default_masked_paths()},
        {"readonlyPaths", rt::default_readonly_paths()},
        {"seccomp",
         {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
          {"syscalls", syscalls}}}}},
  };
}

// crun 1.8 refuses a cgroup v1 host whose cgroup2 mount at /sys/fs/cgroup/unified holds any
// controller ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"; a v1
// host where hugetlb is not mounted has it there); runc takes such hosts. Every controller crun
// uses is still on v1, so crun runs in a mount namespace where /sys/fs/cgroup/unified is not
// mounted, and sees a plain v1 host. Entering it is one setns(2) per run, so the timings keep
// comparing the runtimes themselves. Returns no fd where crun needs no help.
UniqueFd crun_mount_namespace(std::string* note) {
  struct statfs root_fs, unified_fs;
  if (::statfs("/sys/fs/cgroup", &root_fs) != 0 || root_fs.f_type != TMPFS_MAGIC) return {};
  if (::statfs("/sys/fs/cgroup/unified", &unified_fs) != 0 ||
      unified_fs.f_type != CGROUP2_SUPER_MAGIC)
    return {};
  auto controllers = fs::read_file("/sys/fs/cgroup/unified/cgroup.controllers");
  if (!controllers || controllers->find_first_not_of(" \n") == std::string::npos) return {};
  while (!controllers->empty() && controllers->back() == '\n') controllers->pop_back();
  *note = "crun runs in a mount namespace without /sys/fs/cgroup/unified (whose controllers, \"" +
          *controllers + "\", make crun refuse this host)";

  int ready[2], release[2];
  if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(release, O_CLOEXEC) != 0)
    die(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(ready[0]);
    ::close(release[1]);  // else the read below never sees the parent close its end
    // Slave, not private: mounts made on the host later still show up inside.
    int err = 0;
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0 ||
        ::umount2("/sys/fs/cgroup/unified", MNT_DETACH) != 0)
      err = errno;
    ssize_t ignored = ::write(ready[1], &err, sizeof err);
    (void)ignored;
    char byte;
    ignored = ::read(release[0], &byte, 1);  // holds the namespace until the parent has it open
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(release[0]);
  int err = -1;
  bool got = ::read(ready[0], &err, sizeof err) == sizeof err;
  UniqueFd ns;
  if (got && err == 0)
    ns.reset(::open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  int open_errno = errno;
  ::close(ready[0]);
  ::close(release[1]);
  ::waitpid(pid, nullptr, 0);
  if (!got || err != 0)
    die(std::string("mount namespace for crun: ") + std::strerror(got ? err : EPROTO));
  if (!ns) die(std::string("open mount namespace for crun: ") + std::strerror(open_errno));
  return ns;
}

std::string write_bundle(const std::string& dir, const nlohmann::json& config) {
  ok_or_die(fs::make_dirs(dir), "bundle " + dir);
  ok_or_die(fs::write_file_atomic(dir + "/config.json", config.dump(2), 0644, false),
            "bundle " + dir);
  return dir;
}

std::string describe_wait(int status) {
  if (status == -1) return std::string("could not be started: ") + std::strerror(errno);
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

class OciTool {
 public:
  // `mnt_ns`: a mount namespace to run the tool in, or -1 for the bench's own.
  OciTool(std::string name, std::string binary, const std::string& temp_dir,
          const std::string& state_dir, int mnt_ns)
      : name_(std::move(name)),
        binary_(std::move(binary)),
        root_(state_dir + "/" + name_ + "-state"),
        errors_(temp_dir + "/" + name_ + ".stderr"),
        mnt_ns_(mnt_ns) {
    ok_or_die(fs::make_dirs(root_, 0700), name_ + " state dir");
    g_state.oci_roots.push_back({binary_, root_, mnt_ns_});
    null_fd_.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null_fd_) die(std::string("open /dev/null: ") + std::strerror(errno));
  }

  const std::string& name() const { return name_; }

  // The first `run` of `bundle` keeps stderr and must succeed, so that a bundle the tool
  // rejects is never timed.
  void check_first_run(const std::string& bundle) {
    int status =
        run_with_stderr_file({binary_, "--root", root_, "run", "--bundle", bundle, "check"});
    if (status != 0)
      die(name_ + " run of /bin/true " + describe_wait(status) + "; its stderr:\n" + read_errors());
  }

  // One `run` of `bundle` in the foreground, timed from fork until the tool has exited.
  double run_timed(const std::string& bundle, const std::string& id) {
    std::vector<std::string> argv = {binary_, "--root", root_, "run", "--bundle", bundle, id};
    auto start = Clock::now();
    int status = spawn_and_wait(argv, null_fd_.get(), null_fd_.get(), mnt_ns_);
    double ms = ms_since(start);
    if (status != 0)
      die(name_ + " run " + id + " " + describe_wait(status) +
          " (the check run succeeded; rerun with fewer iterations to see why)");
    return ms;
  }

  // `run --detach` of `count` sleeping containers (one bundle each, for distinct cgroups):
  // returns how many processes each container's cgroup holds besides the task, i.e. whether
  // the tool leaves anything resident.
  std::vector<int> idle_extra_processes(const std::string& rootfs, int count) {
    std::vector<int> extra;
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      check_interrupted();
      std::string id = "idle-" + std::to_string(i);
      std::string cgroup = std::string("/") + kCgroupParent + "/" + name_ + "-" + id;
      std::string bundle =
          write_bundle(root_ + "-bundles/" + id, oci_config(rootfs, {"sleep", "1000"}, cgroup));
      int status = run_with_stderr_file(
          {binary_, "--root", root_, "run", "--detach", "--bundle", bundle, id});
      if (status != 0)
        die(name_ + " run --detach " + id + ": " + describe_wait(status) + ": " + read_errors());
      ids.push_back(id);
      auto procs = fs::read_file("/sys/fs/cgroup/pids" + cgroup + "/cgroup.procs");
      if (!procs) die(name_ + ": " + procs.error().what());
      extra.push_back(static_cast<int>(std::count(procs->begin(), procs->end(), '\n')) - 1);
    }
    for (const std::string& id : ids) {
      int status = run_with_stderr_file({binary_, "--root", root_, "delete", "--force", id});
      if (status != 0)
        die(name_ + " delete " + id + ": " + describe_wait(status) + ": " + read_errors());
    }
    return extra;
  }

 private:
  int run_with_stderr_file(const std::vector<std::string>& argv) {
    int fd = ::open(errors_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("open " + errors_ + ": " + std::strerror(errno));
    int status = spawn_and_wait(argv, null_fd_.get(), fd, mnt_ns_);
    ::close(fd);
    return status;
  }

  std::string read_errors() const {
    auto text = fs::read_file(errors_);
    return text ? *text : "(no stderr)";
  }

  std::string name_;
  std::string binary_;
  std::string root_;
  std::string errors_;
  int mnt_ns_;
  UniqueFd null_fd_;
};

// ---- report ----

struct Row {
  std::string name;
  Stats stats;
};

const char* verdict(bool pass) { return pass ? "PASS" : "MISS"; }

// The floor on this machine: fork, exec and wait of the same /bin/true with no isolation.
double bare_once(const std::string& rootfs, int null_fd) {
  auto start = Clock::now();
  int status = spawn_and_wait({rootfs + "/bin/busybox", "true"}, null_fd, null_fd);
  double ms = ms_since(start);
  if (status != 0) die("busybox true on the host " + describe_wait(status));
  return ms;
}

// One load of `program` in a fresh child, as every container's main process (and every process
// run in one) pays it: the kernel checks, converts and JITs the program. Microseconds.
double seccomp_load_us(const rt::SeccompProgram& program) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) die(std::string("pipe: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0) die(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    auto start = Clock::now();
    int err = program.load();
    double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
    if (err) us = -err;
    ssize_t n = ::write(fds[1], &us, sizeof us);
    ::_exit(n == sizeof us ? 0 : 1);
  }
  ::close(fds[1]);
  double us = 0;
  ssize_t n = ::read(fds[0], &us, sizeof us);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  if (n != sizeof us || us < 0) die("seccomp load in a child failed");
  return us;
}

// The default profile as tarmac compiles it (a binary search over ranges of syscall numbers)
// against libseccomp's compilation of the same profile, alternating in one run.
void print_seccomp_load(int iterations) {
  auto ours = value_or_die(rt::build_default_seccomp(), "seccomp");
  auto theirs = value_or_die(rt::build_default_seccomp_with_libseccomp(), "libseccomp");
  std::vector<double> a, b;
  for (int i = 0; i < iterations; ++i) {
    a.push_back(seccomp_load_us(ours));
    b.push_back(seccomp_load_us(theirs));
  }
  Stats sa = stats_of(a), sb = stats_of(b);
  std::printf(
      "\nseccomp load of the default profile in a fresh process, %d each, median (p90) us:\n"
      "  tarmac range tree  %4zu instructions  %7.0f (%.0f)\n"
      "  libseccomp         %4zu instructions  %7.0f (%.0f)   %.2fx tarmac's\n",
      iterations, ours.filter().size(), sa.median, sa.p90, theirs.filter().size(), sb.median,
      sb.p90, sb.median / sa.median);
}

void print_report(const Flags& flags, const std::vector<Row>& rows, const TarmacResult& tarmac,
                  const Stats& bare, const IdleMemory& idle,
                  const std::vector<std::pair<std::string, std::vector<int>>>& oci_idle) {
  const Stats& base = rows.front().stats;
  std::printf(
      "\nstart latency: create → wait → destroy of /bin/true, %d iterations each "
      "(after %d warm-up runs)%s\n\n",
      flags.iterations, flags.warmup, flags.interleave ? ", interleaved" : "");
  std::printf("%-8s %10s %10s %10s %10s %10s %14s %12s\n", "runtime", "median ms", "p90 ms",
              "mean ms", "min ms", "max ms", "median/tarmac", "mean/tarmac");
  for (const Row& r : rows)
    std::printf("%-8s %10.2f %10.2f %10.2f %10.2f %10.2f %13.2fx %11.2fx\n", r.name.c_str(),
                r.stats.median, r.stats.p90, r.stats.mean, r.stats.min, r.stats.max,
                r.stats.median / base.median, r.stats.mean / base.mean);
  std::printf(
      "tarmac by phase, median (p90) ms: create %.2f (%.2f), wait %.2f (%.2f), "
      "destroy %.2f (%.2f)\n",
      tarmac.create.median, tarmac.create.p90, tarmac.wait.median, tarmac.wait.p90,
      tarmac.destroy.median, tarmac.destroy.p90);
  std::printf(
      "no isolation at all (fork + exec + wait of the same /bin/true), the floor on this "
      "machine: median %.2f ms, p90 %.2f ms\n",
      bare.median, bare.p90);

  if (idle.count > 0) {
    std::printf(
        "\nidle memory: %d tarmac containers in `sleep 1000`; resident per container "
        "besides the task = its tarmac-init\n",
        idle.count);
    std::printf(
        "  tarmac-init Pss: median %.0f KiB, max %.0f KiB   (Rss: median %.0f KiB, "
        "max %.0f KiB)\n",
        idle.pss.median, idle.pss.max, idle.rss.median, idle.rss.max);
    for (const auto& [name, extra] : oci_idle) {
      int most = extra.empty() ? 0 : *std::max_element(extra.begin(), extra.end());
      std::printf(
          "  %s run --detach: %d processes besides the task in each container's cgroup "
          "(max over %zu)%s\n",
          name.c_str(), most, extra.size(),
          most == 0 ? ": no resident shim, 0 KiB per container" : "");
    }
  }

  std::printf("\ntargets\n");
  std::printf("  %-44s %11.2f ms  %s\n", "tarmac median <= 5 ms", base.median,
              verdict(base.median <= kTargetMedianMs));
  for (const Row& r : rows) {
    if (r.name != "crun") continue;
    double ratio = r.stats.median / base.median;
    std::printf("  %-44s %12.2fx  %s\n", "tarmac >= 4x faster than crun (median)", ratio,
                verdict(ratio >= kTargetCrunRatio));
  }
  if (idle.count > 0)
    std::printf("  %-44s %10.0f KiB  %s\n", "<= 1 MB resident per idle container (max Pss)",
                idle.pss.max, verdict(idle.pss.max <= kTargetIdleKiB));
}

int run(int argc, char** argv) {
  Flags flags = parse_flags(argc, argv);
  if (::geteuid() != 0)
    die("must run as root: it creates namespaces, mounts and cgroups (try sudo)");
  std::optional<std::string> crun, runc;
  if (!flags.skip_crun && !(crun = find_in_path("crun")))
    die("crun not found in PATH: run scripts/setup.sh (apt-get install -y crun), or pass "
        "--skip-crun");
  if (!flags.skip_runc && !(runc = find_in_path("runc")))
    die("runc not found in PATH: run scripts/setup.sh (apt-get install -y runc), or pass "
        "--skip-runc");
  if (!fs::exists("/bin/busybox")) die("/bin/busybox missing: apt-get install -y busybox-static");
  std::string init_path = self_dir() + "/tarmac-init";
  if (!fs::exists(init_path))
    die(init_path + " missing: build it (ninja -C <build dir> tarmac-init)");

  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);

  g_state.temp_dir = value_or_die(fs::make_temp_dir("tarmac-bench"), "temp dir");
  const std::string& tmp = g_state.temp_dir;
  std::string rootfs = tmp + "/rootfs";
  ok_or_die(rt::make_busybox_rootfs(rootfs), "busybox rootfs");
  // Every runtime keeps its state on a tmpfs, as in /run on a systemd host (crun's and runc's
  // default roots, tarmac's default run dir), whatever filesystem holds the temp dir: a
  // rename or unlink on a journaling filesystem costs more than some of what is measured.
  std::string state = tmp + "/state";
  ok_or_die(fs::make_dirs(state, 0700), "state dir");
  if (::mount("tmpfs", state.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0)
    die("mount tmpfs on " + state + ": " + std::strerror(errno));
  g_state.state_dir = state;

  utsname uts = {};
  ::uname(&uts);
  std::printf("container_bench: kernel %s, %u cpus, temp dir %s, runtime state on a tmpfs\n",
              uts.release, std::thread::hardware_concurrency(), tmp.c_str());
  if (crun) std::printf("  %s: %s\n", crun->c_str(), first_line_of(*crun + " --version").c_str());
  if (runc) std::printf("  %s: %s\n", runc->c_str(), first_line_of(*runc + " --version").c_str());
  std::printf("  tarmac init: %s\n", init_path.c_str());
  if (crun) {
    std::string note;
    g_state.crun_mnt_ns = crun_mount_namespace(&note);
    if (!note.empty()) std::printf("  note: %s\n", note.c_str());
  }
  std::fflush(stdout);

  rt::RuntimeOptions options;
  options.run_dir = state + "/tarmac-run";
  options.cgroup_parent = kCgroupParent;
  options.init_path = init_path;
  g_state.runtime = value_or_die(rt::make_runtime(options), "make_runtime");

  std::vector<OciTool> tools;
  tools.reserve(2);
  if (crun) tools.emplace_back("crun", *crun, tmp, state, g_state.crun_mnt_ns.get());
  if (runc) tools.emplace_back("runc", *runc, tmp, state, -1);
  std::vector<std::string> bundles;
  for (OciTool& tool : tools) {
    std::string cgroup = std::string("/") + kCgroupParent + "/" + tool.name() + "-true";
    bundles.push_back(write_bundle(tmp + "/" + tool.name() + "-bundle",
                                   oci_config(rootfs, {"/bin/true"}, cgroup)));
    tool.check_first_run(bundles.back());
  }
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) die(std::string("open /dev/null: ") + std::strerror(errno));

  // Each runtime as a callable of one run (id, timed) returning its milliseconds; the floor last.
  struct Runner {
    std::string name;
    std::function<double(const std::string& id, bool timed)> run;
    std::vector<double> samples = {};
  };
  TarmacSamples tarmac_samples;
  std::vector<Runner> runners;
  runners.push_back({"tarmac", [&](const std::string& id, bool timed) {
                       TarmacSample t = tarmac_once(*g_state.runtime, rootfs, id);
                       if (timed) tarmac_samples.add(t);
                       return t.total;
                     }});
  for (size_t k = 0; k < tools.size(); ++k)
    runners.push_back({tools[k].name(), [&, k](const std::string& id, bool) {
                         return tools[k].run_timed(bundles[k], id);
                       }});
  runners.push_back(
      {"floor", [&](const std::string&, bool) { return bare_once(rootfs, null_fd.get()); }});
  auto run_once = [&](Runner& r, int i) {
    check_interrupted();
    bool timed = i >= 0;
    double ms = r.run(timed ? "bench-" + std::to_string(i) : "warm-" + std::to_string(-i), timed);
    if (timed) r.samples.push_back(ms);
  };
  if (flags.interleave) {
    // One run of each per iteration: load from other processes then hits every runtime alike,
    // but each also pays for the asynchronous teardown (netns, cgroups) of the one before.
    std::printf("start latency: %d warm-up + %d timed runs of each, interleaved...\n", flags.warmup,
                flags.iterations);
    std::fflush(stdout);
    for (int i = -flags.warmup; i < flags.iterations; ++i)
      for (Runner& r : runners) run_once(r, i);
  } else {
    for (Runner& r : runners) {
      std::printf("%s: %d warm-up + %d timed runs...\n", r.name.c_str(), flags.warmup,
                  flags.iterations);
      std::fflush(stdout);
      for (int i = -flags.warmup; i < flags.iterations; ++i) run_once(r, i);
    }
  }
  TarmacResult tarmac = tarmac_samples.stats();
  std::vector<Row> rows = {{"tarmac", tarmac.total}};
  for (size_t k = 0; k < tools.size(); ++k)
    rows.push_back({tools[k].name(), stats_of(runners[k + 1].samples)});
  Stats bare = stats_of(runners.back().samples);

  IdleMemory idle;
  std::vector<std::pair<std::string, std::vector<int>>> oci_idle;
  if (flags.idle > 0) {
    std::printf("idle memory: %d containers each...\n", flags.idle);
    std::fflush(stdout);
    idle = tarmac_idle_memory(*g_state.runtime, rootfs, flags.idle);
    for (OciTool& tool : tools)
      oci_idle.emplace_back(tool.name(), tool.idle_extra_processes(rootfs, flags.idle));
  }

  print_report(flags, rows, tarmac, bare, idle, oci_idle);
  print_seccomp_load(std::max(flags.iterations / 2, 10));
  cleanup();
  return 0;
}

}  // namespace
}  // namespace tarmac::bench

int main(int argc, char** argv) { return tarmac::bench::run(argc, argv); }
