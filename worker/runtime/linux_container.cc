#include "worker/runtime/linux_container.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <thread>

#include "worker/runtime/linux_exec.h"
#include "worker/runtime/proc.h"

namespace tarmac::runtime {

LinuxContainer::LinuxContainer(const StateStore& store, const SeccompProgram& seccomp,
                               v1::ContainerState state, CgroupPtr cgroup)
    : store_(store), seccomp_(seccomp), state_(std::move(state)), cgroup_(std::move(cgroup)) {}

Result<ExecutedProcessPtr> LinuxContainer::exec(const Process& process, const StdioConfig& stdio) {
  return exec_in_container(state_, cgroup_.get(), seccomp_, process, stdio);
}

void LinuxContainer::reap() {
  if (reaped_status_) return;
  int status = 0;
  // Only the creator is init's parent; for anyone else waitpid says ECHILD and init's real
  // parent reaps it.
  if (::waitpid(state_.init_pid(), &status, WNOHANG) == state_.init_pid()) reaped_status_ = status;
}

Result<bool> LinuxContainer::wait_init(std::optional<std::chrono::milliseconds> timeout) {
  if (state_.init_pid() <= 0) return true;  // never started
  auto fd = open_pidfd(state_.init_pid(), state_.init_start_time());
  if (!fd) return std::move(fd).error().wrap("wait for container " + id());
  if (!fd->valid()) {
    reap();
    return true;
  }
  // A zombie init is ended; the pidfd says so as readable.
  auto ended = wait_pidfd(fd->get(), timeout);
  if (!ended) return std::move(ended).error().wrap("wait for container " + id());
  if (*ended) {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(state_.init_pid(), &status, 0)) < 0 && errno == EINTR) {
    }
    if (r == state_.init_pid()) reaped_status_ = status;
  }
  return *ended;
}

Result<ExitStatus> LinuxContainer::ended_status() {
  auto recorded = store_.read_exit(id());
  if (!recorded) return std::move(recorded).error().wrap("container " + id());
  ExitStatus st;
  if (recorded->has_value()) {
    st = **recorded;
  } else if (reaped_status_ && WIFSIGNALED(*reaped_status_)) {
    st.signal = WTERMSIG(*reaped_status_);
  } else {
    // Init died without a record: it was killed, and the main process with it.
    st.signal = SIGKILL;
  }
  if (st.signal == SIGKILL && cgroup_) {
    auto kills = cgroup_->oom_kills();
    st.oom_killed = kills.ok() && *kills > 0;
  }
  return st;
}

Result<ExitStatus> LinuxContainer::wait() {
  auto ended = wait_init(std::nullopt);
  if (!ended) return std::move(ended).error();
  return ended_status();
}

Result<std::optional<ExitStatus>> LinuxContainer::poll() {
  auto recorded = store_.read_exit(id());
  if (!recorded) return std::move(recorded).error().wrap("container " + id());
  if (!recorded->has_value() && process_alive(state_.init_pid(), state_.init_start_time()))
    return std::optional<ExitStatus>();
  reap();
  auto st = ended_status();
  if (!st) return std::move(st).error();
  return std::optional<ExitStatus>(*st);
}

Status LinuxContainer::signal(int sig) {
  if (!process_alive(state_.init_pid(), state_.init_start_time()))
    return Error("signal container " + id() + ": not running", ESRCH);
  if (sig == SIGKILL) return kill_everything();
  if (::kill(state_.init_pid(), sig) != 0)
    return sys_error("signal container " + id() + ": kill " + std::to_string(state_.init_pid()));
  return {};
}

Status LinuxContainer::kill_everything() {
  // Init first, and its end awaited: in its own pid namespace its death takes every process
  // with it, so the cgroup's sweep finds nothing left (a sweep while init still dies would
  // freeze the cgroup and wait for it: milliseconds). In the host's pid namespace the sweep
  // kills the rest.
  if (state_.init_pid() > 0 && process_alive(state_.init_pid(), state_.init_start_time())) {
    ::kill(state_.init_pid(), SIGKILL);
    auto ended = wait_init(std::chrono::seconds(10));
    if (!ended) return std::move(ended).error().wrap("kill container " + id());
  }
  if (cgroup_) TARMAC_RETURN_IF_ERROR(cgroup_->kill_all(), "kill container " + id());
  return {};
}

Result<ExitStatus> LinuxContainer::stop(std::chrono::milliseconds grace) {
  if (process_alive(state_.init_pid(), state_.init_start_time())) {
    ::kill(state_.init_pid(), state_.stop_signal() ? state_.stop_signal() : SIGTERM);
    auto ended = wait_init(grace);
    if (!ended) return std::move(ended).error().wrap("stop");
    if (!*ended) {
      TARMAC_RETURN_IF_ERROR(kill_everything(), "stop");
      auto killed = wait_init(std::nullopt);
      if (!killed) return std::move(killed).error().wrap("stop");
    }
  }
  return ended_status();
}

Status LinuxContainer::destroy() {
  TARMAC_RETURN_IF_ERROR(kill_everything(), "destroy container " + id());
  auto ended = wait_init(std::chrono::seconds(10));
  if (!ended) return std::move(ended).error().wrap("destroy");
  if (!*ended) return Error("destroy container " + id() + ": init did not die after SIGKILL");
  // kill_everything swept the cgroup already.
  if (cgroup_) TARMAC_RETURN_IF_ERROR(cgroup_->destroy(), "destroy container " + id());
  TARMAC_RETURN_IF_ERROR(store_.remove(id()), "destroy container " + id());
  return {};
}

}  // namespace tarmac::runtime
