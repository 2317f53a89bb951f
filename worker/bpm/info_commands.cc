// bpm list, pid, logs, shell and trace: commands that look at a process without its lock.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <iomanip>
#include <thread>

#include "common/fs.h"
#include "worker/bpm/commands.h"
#include "worker/bpm/job_runtime.h"
#include "worker/bpm/job_spec.h"

namespace tarmac::bpm {
namespace {

int fail(CommandContext& ctx, const std::string& message) {
  ctx.err << "Error: " << message << "\n";
  return 1;
}

// The running process, or an error as bpm words it.
Result<ProcessStatus> running(CommandContext& ctx, runtime::Runtime& rt, const Target& t) {
  auto st = stat_process(rt, container_id(t.job, t.process));
  if (!st) return std::move(st).error().wrap("failed to get job");
  if (st->state != ProcessStatus::State::kRunning)
    return Error("process is not running or could not be found");
  return st;
}

[[noreturn]] void exec_tool(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  std::cerr << "Error: exec " << args[0] << ": " << std::strerror(errno) << "\n";
  ::_exit(127);
}

// Copies between our terminal and the container's pty until the shell ends.
void proxy_terminal(int master, pid_t shell_pid) {
  struct termios saved;
  bool tty = ::tcgetattr(0, &saved) == 0;
  if (tty) {
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    ::tcsetattr(0, TCSANOW, &raw);
    struct winsize ws;
    if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(master, TIOCSWINSZ, &ws);
  }
  char buf[8192];
  struct pollfd fds[2] = {{0, POLLIN, 0}, {master, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;
      if (::write(1, buf, static_cast<size_t>(n)) < 0) break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        fds[0].fd = -1;  // our stdin ended; keep showing output
      } else if (::write(master, buf, static_cast<size_t>(n)) < 0) {
        break;
      }
    }
  }
  if (tty) ::tcsetattr(0, TCSANOW, &saved);
  (void)shell_pid;
}

}  // namespace

int list_command(CommandContext& ctx) {
  auto rt = open_runtime(ctx.paths);
  if (!rt) return fail(ctx, rt.error().what());
  struct Row {
    std::string name, pid, status;
  };
  std::vector<Row> rows;
  std::vector<std::string> listed;
  auto jobs = fs::list_dir(ctx.paths.jobs_dir());
  for (const std::string& job : jobs ? *jobs : std::vector<std::string>()) {
    if (!fs::exists(ctx.paths.job_config(job))) continue;
    auto config = load_job_config(ctx.paths.job_config(job));
    if (!config) {
      ctx.err << "invalid config for " << job << ": " << config.error().what() << "\n";
      continue;
    }
    for (const ProcessConfig& p : config->processes) {
      std::string id = container_id(job, p.name);
      auto st = stat_process(**rt, id);
      Row row{job == p.name ? job : job + "." + p.name, "-", "stopped"};
      if (st && st->state != ProcessStatus::State::kStopped) {
        row.status = state_name(st->state);
        if (st->state == ProcessStatus::State::kRunning) row.pid = std::to_string(st->pid);
      }
      rows.push_back(row);
      listed.push_back(id);
    }
  }
  auto ids = (*rt)->list();
  for (const std::string& id : ids ? *ids : std::vector<std::string>()) {
    if (std::find(listed.begin(), listed.end(), id) != listed.end()) continue;
    auto name = decode_container_id(id);
    ctx.err << "extra process running: process (" << (name ? *name : id) << ") not defined\n";
  }
  size_t w0 = 4, w1 = 3;
  for (const Row& r : rows) {
    w0 = std::max(w0, r.name.size());
    w1 = std::max(w1, r.pid.size());
  }
  auto print = [&](const std::string& a, const std::string& b, const std::string& c) {
    ctx.out << std::left << std::setw(static_cast<int>(w0 + 1)) << a
            << std::setw(static_cast<int>(w1 + 1)) << b << c << "\n";
  };
  print("Name", "Pid", "Status");
  for (const Row& r : rows) print(r.name, r.pid, r.status);
  return 0;
}

int pid_command(CommandContext& ctx, const Target& t) {
  auto rt = open_runtime(ctx.paths);
  if (!rt) return fail(ctx, rt.error().what());
  auto st = running(ctx, **rt, t);
  if (!st) return fail(ctx, st.error().what());
  ctx.out << st->pid << "\n";
  return 0;
}

int logs_command(CommandContext& ctx, const Target& t, bool all, bool err_only, bool follow,
                 int lines, bool quiet) {
  std::vector<std::string> files;
  if (!err_only || all) files.push_back(ctx.paths.stdout_log(t.job, t.process));
  if (err_only || all) files.push_back(ctx.paths.stderr_log(t.job, t.process));
  for (const std::string& f : files)
    if (!fs::exists(f)) return fail(ctx, "logs not found");
  std::vector<std::string> args = {"tail"};
  if (follow) args.push_back("-f");
  if (quiet) args.push_back("-q");
  args.push_back("-n");
  args.push_back(std::to_string(lines));
  args.insert(args.end(), files.begin(), files.end());
  ctx.out.flush();
  exec_tool(args);
}

int shell_command(CommandContext& ctx, const Target& t) {
  auto rt = open_runtime(ctx.paths);
  if (!rt) return fail(ctx, rt.error().what());
  auto st = running(ctx, **rt, t);
  if (!st) return fail(ctx, st.error().what());
  auto pc = load_process(ctx.paths, t);
  if (!pc) return fail(ctx, pc.error().what());
  auto vcap = lookup_user();
  if (!vcap) return fail(ctx, vcap.error().what());
  runtime::Process p;
  p.args = {fs::exists("/bin/bash") ? "/bin/bash" : "/bin/sh"};
  p.env = job_environment(ctx.paths, JobProcess{t.job, *pc, {}});
  const char* term = std::getenv("TERM");
  p.env.push_back(std::string("TERM=") + (term ? term : "xterm"));
  p.cwd = pc->workdir.empty() ? "/var/vcap/jobs/" + t.job : pc->workdir;
  if (!pc->unsafe.privileged) {
    p.uid = vcap->uid;
    p.gid = vcap->gid;
  }
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPty;
  auto shell = st->container->exec(p, io);
  if (!shell) return fail(ctx, shell.error().what());
  proxy_terminal((*shell)->stdio().pty_master.get(), (*shell)->pid());
  auto status = (*shell)->wait();
  return status ? status->shell_code() : 1;
}

int trace_command(CommandContext& ctx, const Target& t) {
  auto rt = open_runtime(ctx.paths);
  if (!rt) return fail(ctx, rt.error().what());
  auto st = running(ctx, **rt, t);
  if (!st) return fail(ctx, st.error().what());
  exec_tool({"strace", "-s", "100", "-f", "-y", "-yy", "-p", std::to_string(st->pid)});
}

}  // namespace tarmac::bpm
