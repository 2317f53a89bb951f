#include "worker/runtime/linux_exec.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "worker/runtime/child_plan.h"
#include "worker/runtime/plan_builder.h"
#include "worker/runtime/proc.h"
#include "worker/runtime/stdio.h"

namespace tarmac::runtime {
namespace {

// The caller's child relays the process's end (see run_exec_child), so waiting for the
// process is waiting for that child.
class LinuxExecutedProcess final : public ExecutedProcess {
 public:
  LinuxExecutedProcess(pid_t waiter, pid_t pid, StdioEnds stdio)
      : waiter_(waiter), pid_(pid), stdio_(std::move(stdio)) {}
  ~LinuxExecutedProcess() override {
    if (!status_) {
      // Nobody will wait: don't leave a zombie; the process itself keeps running.
      ::kill(waiter_, SIGKILL);
      ::waitpid(waiter_, nullptr, 0);
    }
  }

  pid_t pid() const override { return pid_; }
  StdioEnds& stdio() override { return stdio_; }

  Result<ExitStatus> wait() override {
    if (!status_) {
      int status = 0;
      pid_t r;
      while ((r = ::waitpid(waiter_, &status, 0)) < 0 && errno == EINTR) {
      }
      if (r < 0) return sys_error("wait for process " + std::to_string(pid_));
      status_ = status;
    }
    return decoded();
  }

  Result<std::optional<ExitStatus>> poll() override {
    if (!status_) {
      int status = 0;
      pid_t r = ::waitpid(waiter_, &status, WNOHANG);
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
    if (::kill(pid_, sig) != 0) return sys_error("signal process " + std::to_string(pid_));
    return {};
  }

 private:
  pid_t waiter_;
  pid_t pid_;
  StdioEnds stdio_;
  std::optional<int> status_;
};

bool same_namespace(pid_t pid, const char* ns) {
  struct stat mine, theirs;
  std::string self = std::string("/proc/self/ns/") + ns;
  std::string other = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  return ::stat(self.c_str(), &mine) == 0 && ::stat(other.c_str(), &theirs) == 0 &&
         mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
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

  // User first (it grants the rights to join the rest), mount last (it changes our root).
  std::vector<UniqueFd> ns;
  for (const char* name : {"user", "ipc", "uts", "net", "pid", "cgroup", "mnt"}) {
    if (same_namespace(init, name)) continue;
    std::string path = "/proc/" + std::to_string(init) + "/ns/" + name;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return sys_error(where + ": open " + path);
    ns.push_back(std::move(fd));
  }
  std::vector<int> ns_fds;
  for (auto& fd : ns) ns_fds.push_back(fd.get());

  auto io = open_stdio(stdio, "/proc/" + std::to_string(init) + "/root/dev/pts/ptmx");
  if (!io) return std::move(io).error().wrap(where);
  int sync[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) != 0)
    return sys_error(where + ": socketpair");
  UniqueFd parent_end(sync[0]), child_end(sync[1]);
  plan.sync_fd = child_end.get();
  for (int i = 0; i < 3; ++i) plan.stdio[i] = io->child[i].get();
  plan.stdio_is_pty = io->is_pty;

  pid_t waiter = ::fork();
  if (waiter < 0) return sys_error(where + ": fork");
  if (waiter == 0) run_exec_child(plan, ns_fds.data(), static_cast<int>(ns_fds.size()));
  child_end.reset();
  for (auto& fd : io->child) fd.reset();
  auto give_up = [&](Error e) -> Result<ExecutedProcessPtr> {
    ::kill(waiter, SIGKILL);
    ::waitpid(waiter, nullptr, 0);
    return std::move(e).wrap(where);
  };

  if (cgroup) {
    if (auto s = cgroup->add_process(waiter); !s) return give_up(std::move(s).error());
  }
  char go = 1;
  if (::send(parent_end.get(), &go, 1, MSG_NOSIGNAL) != 1) return give_up(sys_error("start"));

  // First the process's host pid, then EOF at its exec, or a ChildError if a step failed.
  pid_t pid = 0;
  for (;;) {
    ChildError err;
    ssize_t n = ::recv(parent_end.get(), &err, sizeof err, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return give_up(sys_error("read child status"));
    if (n == 0) break;
    if (n == sizeof pid) {
      std::memcpy(&pid, &err, sizeof pid);
    } else if (n == sizeof err) {
      err.step[sizeof err.step - 1] = 0;
      // The waiter reaps the failed process and exits by itself. Killing it first would
      // orphan that zombie to the host's init, and the container's pid namespace could not
      // end until the host got round to reaping it (seen: 1.3 s on destroy).
      ::waitpid(waiter, nullptr, 0);
      return Error(err.step, err.errnum).wrap(where);
    }
  }
  if (pid <= 0) return give_up(Error("the process did not start"));
  return ExecutedProcessPtr(
      std::make_unique<LinuxExecutedProcess>(waiter, pid, std::move(io->parent)));
}

}  // namespace tarmac::runtime
