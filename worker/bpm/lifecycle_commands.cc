// bpm start, stop and run: the commands that hold the process's lock.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "common/fs.h"
#include "worker/bpm/commands.h"
#include "worker/bpm/job_runtime.h"
#include "worker/bpm/job_spec.h"
#include "worker/bpm/lock.h"
#include "worker/bpm/volume_flag.h"

namespace tarmac::bpm {
namespace {

int fail(CommandContext& ctx, const Error& e) {
  ctx.err << "Error: " << e.what() << "\n";
  return 1;
}

// The hook runs on the host as root with the process's environment, output to its logs.
Status run_pre_start(const std::string& hook, const std::vector<std::string>& env, int out_fd,
                     int err_fd) {
  std::vector<char*> envp;
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("prestart hook: fork");
  if (pid == 0) {
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    char* argv[] = {const_cast<char*>(hook.c_str()), nullptr};
    ::execve(hook.c_str(), argv, envp.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return Error("prestart hook " + hook + " failed: " +
               (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                    : "exit status " + std::to_string(WEXITSTATUS(status))));
}

struct Prepared {
  runtime::ContainerSpec spec;
  runtime::StdioConfig stdio;
};

// Everything start and run share: directories, logs, the spec and the pre-start hook.
Result<Prepared> prepare(CommandContext& ctx, const JobProcess& jp) {
  auto vcap = lookup_user();
  if (!vcap) return std::move(vcap).error();
  TARMAC_RETURN_IF_ERROR(create_job_directories(ctx.paths, jp, *vcap),
                         "failed to create system files");
  auto spec = build_job_spec(ctx.paths, jp, *vcap);
  if (!spec) return std::move(spec).error();
  Prepared p{std::move(*spec), {}};
  p.stdio.mode = runtime::StdioConfig::Mode::kFiles;
  p.stdio.stdout_path = ctx.paths.stdout_log(jp.job, jp.config.name);
  p.stdio.stderr_path = ctx.paths.stderr_log(jp.job, jp.config.name);
  p.stdio.files_owner = vcap->uid;
  p.stdio.files_group = vcap->gid;
  if (!jp.config.pre_start.empty()) {
    UniqueFd out(
        ::open(p.stdio.stdout_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    UniqueFd err(
        ::open(p.stdio.stderr_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!out || !err) return sys_error("open logs of " + jp.job);
    TARMAC_RETURN_IF_ERROR(
        run_pre_start(jp.config.pre_start, p.spec.process.env, out.get(), err.get()),
        "failed to start job-process");
  }
  return p;
}

// The runtime, with an ended container of the process cleared away so that the name can be
// used again; null when the process already runs.
Result<runtime::RuntimePtr> runtime_for_new_process(CommandContext& ctx, const Target& t) {
  auto rt = open_runtime(ctx.paths);
  if (!rt) return std::move(rt).error();
  auto st = stat_process(**rt, container_id(t.job, t.process));
  if (!st) return std::move(st).error();
  if (st->state == ProcessStatus::State::kRunning) return runtime::RuntimePtr();
  if (st->state == ProcessStatus::State::kCreating)
    return Error("process " + t.process + " is being created by another caller");
  if (st->state == ProcessStatus::State::kFailed)
    TARMAC_RETURN_IF_ERROR(st->container->destroy(), "failed to clean up stale job-process");
  return rt;
}

// Copies what the process writes to both its log and our own stream, as bpm run does.
void tee(int from, int log_fd, int to) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    if (::write(log_fd, buf, static_cast<size_t>(n)) < 0) {
    }
    if (::write(to, buf, static_cast<size_t>(n)) < 0) {
    }
  }
}

}  // namespace

int start_command(CommandContext& ctx, const Target& t) {
  auto lock = ProcessLock::acquire(ctx.paths.lock_file(t.job, t.process));
  if (!lock) return fail(ctx, lock.error());
  auto pc = load_process(ctx.paths, t);
  if (!pc) return fail(ctx, pc.error());
  auto rt = runtime_for_new_process(ctx, t);
  if (!rt) return fail(ctx, rt.error());
  if (!*rt) return 0;  // already running: nothing to do, as bpm

  JobProcess jp{t.job, *pc, {}};
  auto prepared = prepare(ctx, jp);
  if (!prepared) return fail(ctx, prepared.error());
  auto made = (*rt)->create(prepared->spec, prepared->stdio);
  if (!made) return fail(ctx, made.error().wrap("failed to start job-process"));
  auto pid_written = fs::write_file_atomic(ctx.paths.pid_file(t.job, t.process),
                                           std::to_string(made->container->init_pid()) + "\n");
  if (!pid_written) return fail(ctx, pid_written.error());
  return 0;
}

int stop_command(CommandContext& ctx, const Target& t) {
  auto lock = ProcessLock::acquire(ctx.paths.lock_file(t.job, t.process));
  if (!lock) return fail(ctx, lock.error());
  auto rt = open_runtime(ctx.paths);
  if (!rt) return fail(ctx, rt.error());
  auto st = stat_process(**rt, container_id(t.job, t.process));
  if (!st) return fail(ctx, st.error());
  ::unlink(ctx.paths.pid_file(t.job, t.process).c_str());
  if (st->state == ProcessStatus::State::kStopped) return 0;  // already stopped
  if (st->state == ProcessStatus::State::kCreating)
    return fail(ctx, Error("process " + t.process + " is being created by another caller"));
  runtime::Container& c = *st->container;
  if (st->state == ProcessStatus::State::kRunning) {
    // bpm's sequence, sized for monit's 30 s: the shutdown signal and 15 s, then SIGQUIT
    // (a Go program dumps its stacks) and 2 s, then SIGKILL by destroy.
    auto pc = load_process(ctx.paths, t);
    int sig = pc ? pc->shutdown_signal : SIGTERM;
    (void)c.signal(sig);
    auto waited = [&](std::chrono::milliseconds limit) {
      auto deadline = std::chrono::steady_clock::now() + limit;
      while (std::chrono::steady_clock::now() < deadline) {
        auto ended = c.poll();
        if (!ended || ended->has_value()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return false;
    };
    if (!waited(std::chrono::seconds(15))) {
      (void)c.signal(SIGQUIT);
      waited(std::chrono::seconds(2));
    }
  }
  if (auto s = c.destroy(); !s) return fail(ctx, s.error().wrap("failed to cleanup job-process"));
  return 0;
}

int run_command(CommandContext& ctx, const Target& t, const std::vector<std::string>& volumes,
                const std::vector<std::string>& env) {
  auto lock = ProcessLock::acquire(ctx.paths.lock_file(t.job, t.process));
  if (!lock) return fail(ctx, lock.error());
  auto pc = load_process(ctx.paths, t);
  if (!pc) return fail(ctx, pc.error());
  JobProcess jp{t.job, *pc, env};
  for (const std::string& flag : volumes) {
    auto v = parse_volume_flag(flag, ctx.paths, t.job);
    if (!v) return fail(ctx, v.error());
    jp.config.additional_volumes.push_back(*v);
  }
  for (const std::string& kv : env)
    if (kv.find('=') == std::string::npos || kv[0] == '=')
      return fail(ctx, Error("-e " + kv + ": expected KEY=VALUE"));

  auto rt = runtime_for_new_process(ctx, t);
  if (!rt) return fail(ctx, rt.error());
  if (!*rt) return 0;  // already running: nothing to do, as bpm

  auto prepared = prepare(ctx, jp);
  if (!prepared) return fail(ctx, prepared.error());
  UniqueFd out_log(
      ::open(prepared->stdio.stdout_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  UniqueFd err_log(
      ::open(prepared->stdio.stderr_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (!out_log || !err_log) return fail(ctx, sys_error("open logs of " + t.job));
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPipes;
  auto made = (*rt)->create(prepared->spec, io);
  if (!made) return fail(ctx, made.error().wrap("failed to run job-process"));
  made->stdio.stdin_fd.reset();
  std::thread err_copy(tee, made->stdio.stderr_fd.get(), err_log.get(), 2);
  tee(made->stdio.stdout_fd.get(), out_log.get(), 1);
  err_copy.join();
  auto status = made->container->wait();
  auto destroyed = made->container->destroy();
  if (!status) return fail(ctx, status.error());
  if (!destroyed) return fail(ctx, destroyed.error());
  if (!status->success()) {
    ctx.err << "Error: failed to run job-process: " << status->describe() << "\n";
    return status->shell_code();
  }
  return 0;
}

}  // namespace tarmac::bpm
