#include "worker/runtime/linux_exec.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <utility>

#include "worker/runtime/child_plan.h"
#include "worker/runtime/plan_builder.h"
#include "worker/runtime/proc.h"
#include "worker/runtime/raw_syscall.h"
#include "worker/runtime/spawn.h"
#include "worker/runtime/stdio.h"

namespace tarmac::runtime {
namespace {

// The process is the caller's own child (see run_exec_child_entry): waiting for it gives its
// real status. It must be reaped: a zombie of the container's pid namespace keeps the
// namespace, and so the container's init, from ending.
class LinuxExecutedProcess final : public ExecutedProcess {
 public:
  LinuxExecutedProcess(pid_t pid, StdioEnds stdio) : pid_(pid), stdio_(std::move(stdio)) {}
  ~LinuxExecutedProcess() override {
    if (!status_) {
      // Nobody will wait: a process dropped is a process ended, and reaped.
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }

  pid_t pid() const override { return pid_; }
  StdioEnds& stdio() override { return stdio_; }

  Result<ExitStatus> wait() override {
    if (!status_) {
      int status = 0;
      pid_t r;
      while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
      }
      if (r < 0) return sys_error("wait for process " + std::to_string(pid_));
      status_ = status;
    }
    return decoded();
  }

  Result<std::optional<ExitStatus>> poll() override {
    if (!status_) {
      int status = 0;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r < 0 && errno != EINTR) return sys_error("wait for process " + std::to_string(pid_));
      if (r <= 0) return std::optional<ExitStatus>();
      status_ = status;
    }
    return std::optional<ExitStatus>(decoded());
  }

  ExitStatus decoded() const {
    ExitStatus st;
    if (WIFSIGNALED(*status_)) {
      st.signal = WTERMSIG(*status_);
    } else {
      st.exit_code = WEXITSTATUS(*status_);
    }
    return st;
  }

  Status signal(int sig) override {
    // Reaped, its pid may be another process's by now.
    if (status_) return Error("signal process " + std::to_string(pid_) + ": it has exited", ESRCH);
    if (::kill(pid_, sig) != 0) return sys_error("signal process " + std::to_string(pid_));
    return {};
  }

 private:
  pid_t pid_;
  StdioEnds stdio_;
  std::optional<int> status_;
};

bool same_namespace(pid_t pid, const char* ns) {
  struct stat mine, theirs;
  // The calling thread's: the helper that joins inherits them, not the process leader's.
  std::string self = std::string("/proc/thread-self/ns/") + ns;
  std::string other = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  return ::stat(self.c_str(), &mine) == 0 && ::stat(other.c_str(), &theirs) == 0 &&
         mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

// The CLONE_NEW* flags of the namespaces `pid` does not share with us.
int own_namespaces(pid_t pid) {
  static constexpr std::pair<const char*, int> kKinds[] = {
      {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
      {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
      {"mnt", CLONE_NEWNS}};
  int flags = 0;
  for (const auto& [name, flag] : kKinds)
    if (!same_namespace(pid, name)) flags |= flag;
  return flags;
}

}  // namespace

Result<ExecutedProcessPtr> exec_in_container(const v1::ContainerState& state, Cgroup* cgroup,
                                             const SeccompProgram& seccomp, const Process& process,
                                             const StdioConfig& stdio) {
  std::string where = "exec in container " + state.id();
  pid_t init = state.init_pid();
  auto pidfd = open_pidfd(init, state.init_start_time());
  if (!pidfd) return std::move(pidfd).error().wrap(where);
  if (!pidfd->valid()) return Error(where + ": not running", ESRCH);

  ChildPlan plan;
  std::vector<std::string> caps(state.capabilities().begin(), state.capabilities().end());
  TARMAC_RETURN_IF_ERROR(
      plan_process(plan, process, caps, state.privileged(), state.seccomp(), seccomp), where);

  int namespaces = static_cast<int>(state.namespaces());
  if (namespaces == 0) namespaces = own_namespaces(init);  // a state from before the field

  auto io = open_stdio(stdio, "/proc/" + std::to_string(init) + "/root/dev/pts/ptmx");
  if (!io) return std::move(io).error().wrap(where);
  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0)
    return sys_error(where + ": socketpair");
  UniqueFd parent_end(sync[0]), child_end(sync[1]);
  plan.sync_fd = child_end.get();
  for (int i = 0; i < 3; ++i) plan.stdio[i] = io->child[i].get();
  plan.stdio_is_pty = io->is_pty;

  // The waiter and the process run on these in our memory until they exit or exec; both are
  // reaped below before they go.
  auto waiter_stack = ChildStack::make();
  if (!waiter_stack) return std::move(waiter_stack).error().wrap(where);
  auto process_stack = ChildStack::make();
  if (!process_stack) return std::move(process_stack).error().wrap(where);
  plan.main_stack = process_stack->top();
  ExecChildArgs args{&plan, pidfd->get(), namespaces};
  pid_t waiter;
  {
    SignalsBlocked blocked;
    waiter = ::clone(run_exec_child_entry, waiter_stack->top(), CLONE_VM | SIGCHLD, &args);
  }
  if (waiter < 0) return sys_error(where + ": clone");
  child_end.reset();
  for (auto& fd : io->child) fd.reset();
  // Raw receives (raw_recv): the helper and the process share this thread's errno.
  auto give_up = [&](Error e) -> Result<ExecutedProcessPtr> {
    // The helper may have failed first (joining a namespace), which is then the reason.
    ChildError err;
    if (raw_recv(parent_end.get(), &err, sizeof err, MSG_DONTWAIT) == static_cast<long>(sizeof err))
      e = err.to_error();
    ::kill(waiter, SIGKILL);
    ::waitpid(waiter, nullptr, 0);
    return std::move(e).wrap(where);
  };

  if (cgroup) {
    if (auto s = cgroup->add_process(waiter); !s) return give_up(std::move(s).error());
  }
  char go = 1;
  if (::send(parent_end.get(), &go, 1, MSG_NOSIGNAL) != 1) return give_up(sys_error("start"));

  // The process's error if it failed, then its host pid from the waiter, then EOF once both
  // have exec'd or exited. Until EOF they may still run on the stacks above.
  pid_t pid = 0;
  std::optional<Error> failed;
  for (;;) {
    ChildError err;
    long n = raw_recv(parent_end.get(), &err, sizeof err);
    if (n == -EINTR) continue;
    if (n < 0) return give_up(Error("read child status", static_cast<int>(-n)));
    if (n == 0) break;
    if (n == static_cast<long>(sizeof pid)) {
      std::memcpy(&pid, &err, sizeof pid);
    } else if (n == static_cast<long>(sizeof err) && !failed) {
      failed = err.to_error();
    }
  }
  while (::waitpid(waiter, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (failed) {
    // A process that failed before its exec has exited; reap it (see LinuxExecutedProcess).
    if (pid > 0)
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    return std::move(*failed).wrap(where);
  }
  if (pid <= 0) return Error("the process did not start").wrap(where);
  return ExecutedProcessPtr(std::make_unique<LinuxExecutedProcess>(pid, std::move(io->parent)));
}

}  // namespace tarmac::runtime
