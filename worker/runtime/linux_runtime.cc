#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <functional>

#include "common/fs.h"
#include "common/scope_exit.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/linux_container.h"
#include "worker/runtime/netns_pool.h"
#include "worker/runtime/plan_builder.h"
#include "worker/runtime/proc.h"
#include "worker/runtime/raw_syscall.h"
#include "worker/runtime/runtime.h"
#include "worker/runtime/spawn.h"
#include "worker/runtime/stdio.h"

namespace tarmac::runtime {
namespace {

std::string default_init_path() {
  if (const char* env = std::getenv("TARMAC_INIT_PATH"); env && *env) return env;
  char exe[PATH_MAX] = {};
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "tarmac-init";
  std::string dir(exe, static_cast<size_t>(n));
  dir = dir.substr(0, dir.rfind('/'));
  // Binaries sit in build/bin; test binaries in build/tests.
  for (const std::string& candidate : {dir + "/tarmac-init", dir + "/../bin/tarmac-init"})
    if (fs::exists(candidate)) return candidate;
  return dir + "/tarmac-init";
}

std::string id_map_text(const std::vector<IdMap>& maps) {
  std::string text;
  for (const IdMap& m : maps)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
            std::to_string(m.size) + "\n";
  return text;
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class LinuxRuntime final : public Runtime {
 public:
  // Holds no descriptor: a process that forks after making one (the shim fork server) hands
  // it to children that close what they did not open.
  LinuxRuntime(RuntimeOptions options, CgroupDriverPtr cgroups, SeccompProgram seccomp)
      : options_(std::move(options)),
        store_(options_.run_dir),
        cgroups_(std::move(cgroups)),
        seccomp_(std::move(seccomp)) {}

  Result<CreatedContainer> create(const ContainerSpec& spec, const StdioConfig& stdio) override {
    auto made = create_container(spec, stdio);
    if (!made) return std::move(made).error().wrap("create container " + spec.id);
    return made;
  }

  Result<ContainerPtr> find(const std::string& id) override {
    TARMAC_RETURN_IF_ERROR(validate_container_id(id), "find");
    auto state = store_.load(id);
    if (!state) return std::move(state).error();
    // Only ever a cgroup under our parent: a damaged state must never name the root cgroup,
    // whose every process kill_all would then kill.
    CgroupPtr cg;
    if (state->cgroup() == cgroup_name(id)) {
      auto cgroup = cgroups_->open(state->cgroup());
      if (cgroup) cg = std::move(*cgroup);
    }
    auto container = std::make_unique<LinuxContainer>(store_, seccomp_, *state, std::move(cg));
    if (state->status() == "creating") {
      if (process_alive(state->creator_pid(), state->creator_start_time()))
        return Error("container \"" + id + "\" is being created", EAGAIN);
      // Its creator died midway: nothing can finish it, so take it down whole.
      TARMAC_RETURN_IF_ERROR(container->destroy(), "find " + id);
      return Error("container \"" + id + "\" was left half-created by a crashed caller; removed",
                   ENOENT);
    }
    return ContainerPtr(std::move(container));
  }

  Result<std::vector<std::string>> list() override { return store_.ids(); }

 private:
  std::string cgroup_name(const std::string& id) const {
    return options_.cgroup_parent.empty() ? id : options_.cgroup_parent + "/" + id;
  }

  Result<CreatedContainer> create_container(const ContainerSpec& spec, const StdioConfig& stdio) {
    TARMAC_RETURN_IF_ERROR(validate_container_id(spec.id), "spec");
    auto plan = build_child_plan(spec, seccomp_);
    if (!plan) return std::move(plan).error().wrap("spec");

    // The cloned child and the main process run on these in our memory until they exec, so
    // they go only after the cleanup below has killed whatever still runs.
    auto child_stack = ChildStack::make();
    if (!child_stack) return std::move(child_stack).error();
    // No main process (the worker's containers): no stack for it.
    Result<ChildStack> main_stack = ChildStack();
    if (plan->has_main) main_stack = ChildStack::make();
    if (!main_stack) return std::move(main_stack).error();
    auto detach_stack = ChildStack::make(16 * 1024);
    if (!detach_stack) return std::move(detach_stack).error();

    UniqueFd init_fd(::open(options_.init_path.c_str(), O_PATH | O_CLOEXEC));
    if (!init_fd) return sys_error("open init binary " + options_.init_path);
    TARMAC_RETURN_IF_ERROR(store_.create(spec.id), "state");
    // Until the container runs, any failure takes down everything made so far.
    CgroupPtr cgroup;
    pid_t child = -1;
    bool done = false;
    ScopeExit cleanup([&] {
      if (done) return;
      if (child > 0) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
      }
      if (cgroup) {
        (void)cgroup->kill_all();
        (void)cgroup->destroy();
      }
      (void)store_.remove(spec.id);
    });

    v1::ContainerState state;
    state.set_id(spec.id);
    state.set_status("creating");
    state.set_cgroup(cgroup_name(spec.id));
    state.set_stop_signal(spec.stop_signal);
    state.set_rootfs(spec.rootfs);
    state.set_created_unix_ms(now_unix_ms());
    state.set_privileged(spec.privileged);
    for (const std::string& cap : spec.capabilities) state.add_capabilities(cap);
    state.set_seccomp(spec.seccomp);
    uint64_t namespaces = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
    if (spec.namespaces.pid) namespaces |= CLONE_NEWPID;
    if (spec.namespaces.network) namespaces |= CLONE_NEWNET;  // its own or a pooled one
    if (spec.namespaces.user) namespaces |= CLONE_NEWUSER;
    if (!spec.privileged) namespaces |= CLONE_NEWCGROUP;  // init unshares it
    state.set_namespaces(namespaces);
    state.set_creator_pid(::getpid());
    state.set_creator_start_time(own_start_time());

    TARMAC_RETURN_IF_ERROR(store_.save_binary(state), "state");

    auto cg = cgroups_->create(cgroup_name(spec.id));
    if (!cg) return std::move(cg).error().wrap("cgroup");
    cgroup = std::move(*cg);
    CgroupLimits limits = spec.limits;
    if (spec.privileged) limits.restrict_devices = false;
    TARMAC_RETURN_IF_ERROR(cgroup->apply(limits), "cgroup limits");

    UniqueFd exit_fd(
        ::open(store_.exit_path(spec.id).c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!exit_fd) return sys_error("open " + store_.exit_path(spec.id));

    auto io = open_stdio(stdio);
    if (!io) return std::move(io).error().wrap("stdio");

    int sync[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0)
      return sys_error("socketpair");
    UniqueFd parent_end(sync[0]), child_end(sync[1]);

    // A user namespace must own its container's network namespace: those make their own.
    UniqueFd pooled_net;
    if (spec.namespaces.network && !spec.namespaces.user) pooled_net = NetnsPool::instance().take();
    if (pooled_net) {
      plan->net_fd = pooled_net.get();
      plan->new_net = false;  // its loopback is up already
    }

    plan->sync_fd = child_end.get();
    plan->exit_fd = exit_fd.get();
    plan->init_fd = init_fd.get();
    for (int i = 0; i < 3; ++i) plan->stdio[i] = io->child[i].get();
    plan->stdio_is_pty = io->is_pty;
    plan->main_stack = main_stack->top();
    plan->detach_stack = detach_stack->top();
    // The built-in profile allows every call the process makes before its exec.
    plan->seccomp_early = options_.seccomp_file.empty();

    int flags = CLONE_VM | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
    if (spec.namespaces.pid) flags |= CLONE_NEWPID;
    if (spec.namespaces.network && !pooled_net) flags |= CLONE_NEWNET;
    if (spec.namespaces.user) flags |= CLONE_NEWUSER;
    {
      // Into new namespaces, sharing our memory until it execs (see spawn.h).
      SignalsBlocked blocked;
      child = ::clone(run_child_entry, child_stack->top(), flags, &*plan);
    }
    if (child < 0) return sys_error("clone");

    child_end.reset();
    pooled_net.reset();
    for (auto& fd : io->child) fd.reset();

    if (spec.namespaces.user) {
      std::string proc = "/proc/" + std::to_string(child);
      TARMAC_RETURN_IF_ERROR(fs::write_file(proc + "/uid_map", id_map_text(spec.uid_map)),
                             "uid_map");
      TARMAC_RETURN_IF_ERROR(fs::write_file(proc + "/gid_map", id_map_text(spec.gid_map)),
                             "gid_map");
    }
    TARMAC_RETURN_IF_ERROR(cgroup->add_process(child), "cgroup");
    char go = 1;
    if (::send(parent_end.get(), &go, 1, MSG_NOSIGNAL) != 1) return sys_error("start child");

    // EOF once init and the main process have both exec'd; a ChildError if a step failed.
    // Raw receives: the children share this thread's errno and write it meanwhile.
    ChildError err;
    long n;
    while ((n = raw_recv(parent_end.get(), &err, sizeof err)) == -EINTR) {
    }
    if (n < 0) return Error("read child status", static_cast<int>(-n));
    if (n > 0) {
      // The one that failed exits; wait until nothing runs on the stacks any more (the
      // descriptor closes at exec or exit) before the cleanup unmaps them.
      char rest[sizeof err];
      long r;
      do r = raw_recv(parent_end.get(), rest, sizeof rest);
      while (r > 0 || r == -EINTR);
      return err.to_error();
    }

    auto st = read_proc_stat(child);
    if (!st || !st->has_value())
      return Error("container init " + std::to_string(child) + " vanished");
    state.set_init_pid(child);
    state.set_init_start_time((*st)->start_time);
    state.set_status("running");
    TARMAC_RETURN_IF_ERROR(store_.save(state), "state");
    done = true;

    CreatedContainer created;
    created.container =
        std::make_unique<LinuxContainer>(store_, seccomp_, state, std::move(cgroup));
    created.stdio = std::move(io->parent);
    return created;
  }

  RuntimeOptions options_;
  StateStore store_;
  CgroupDriverPtr cgroups_;
  SeccompProgram seccomp_;
};

}  // namespace

std::string ExitStatus::describe() const {
  if (oom_killed) return "killed by the OOM killer (memory limit reached)";
  if (signal) return "killed by signal " + std::to_string(signal);
  return "exit status " + std::to_string(exit_code);
}

Result<RuntimePtr> make_runtime(RuntimeOptions options) {
  if (options.init_path.empty()) options.init_path = default_init_path();
  if (::access(options.init_path.c_str(), X_OK) != 0)
    return sys_error("runtime: init binary " + options.init_path);
  auto cgroups = detect_cgroup_driver(options.cgroup_root);
  if (!cgroups) return std::move(cgroups).error().wrap("runtime");
  auto seccomp =
      options.seccomp_file.empty() ? build_default_seccomp() : read_seccomp(options.seccomp_file);
  if (!seccomp) return std::move(seccomp).error().wrap("runtime: seccomp profile");
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(options.run_dir, 0700), "runtime: run dir");
  return RuntimePtr(
      std::make_unique<LinuxRuntime>(std::move(options), std::move(*cgroups), std::move(*seccomp)));
}

}  // namespace tarmac::runtime
