// tarmac-shim: keeps one process started by the worker, so that the process, its output and
// its exit status outlive the worker (kill -9 included) and every client. It starts the
// process in the container (the runtime's exec), holds its stdio, appends its output to the
// output log, takes stdin, resizes and signals from clients on shim.sock, and writes the exit
// file when the process ends. See protocol.h.
//
// usage: tarmac-shim DIR   (fd 3: where to report "ok <pid>" or "error <message>")
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/fd_passing.h"
#include "common/fs.h"
#include "common/unique_fd.h"
#include "worker/runtime/capabilities.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/state_store.h"
#include "worker/shim/output_log.h"
#include "worker/shim/protocol.h"

namespace tarmac::shim {
namespace {

constexpr int kReportFd = 3;
constexpr size_t kMaxPendingStdin = 1 << 20;

void report(const std::string& line) {
  std::string text = line + "\n";
  ssize_t ignored = ::write(kReportFd, text.data(), text.size());
  (void)ignored;
  ::close(kReportFd);
}

[[noreturn]] void fail(const std::string& message) {
  report("error " + message);
  std::fprintf(stderr, "tarmac-shim: %s\n", message.c_str());
  ::_exit(1);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

Result<UniqueFd> listen_here() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return sys_error("socket");
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, kSocketFile);
  ::unlink(kSocketFile);
  // Relative to the process dir: the absolute path may be longer than sun_path allows.
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sys_error(std::string("bind ") + kSocketFile);
  if (::listen(fd.get(), 16) != 0) return sys_error("listen");
  return fd;
}

class Shim {
 public:
  Shim(runtime::ExecutedProcessPtr process, OutputLogWriter log, UniqueFd listener, bool tty)
      : process_(std::move(process)), log_(std::move(log)), listener_(std::move(listener)) {
    auto& io = process_->stdio();
    if (tty) {
      out_ = io.pty_master.get();
      in_ = out_;
    } else {
      out_ = io.stdout_fd.get();
      err_ = io.stderr_fd.get();
      in_ = io.stdin_fd.get();
    }
    for (int fd : {out_, err_, in_})
      if (fd >= 0) set_nonblocking(fd);
    tty_ = tty;
  }

  // Runs until the process has ended and its output is in the log; returns its status.
  runtime::ExitStatus run(int signal_fd) {
    std::vector<char> buf(kMaxFramePayload);
    for (;;) {
      std::vector<pollfd> fds;
      fds.push_back({listener_.get(), POLLIN, 0});
      fds.push_back({signal_fd, POLLIN, 0});
      fds.push_back({out_, static_cast<short>(out_ >= 0 ? POLLIN : 0), 0});
      fds.push_back({err_, static_cast<short>(err_ >= 0 ? POLLIN : 0), 0});
      bool want_write = in_ >= 0 && !pending_stdin_.empty();
      fds.push_back({tty_ ? -1 : in_, static_cast<short>(want_write ? POLLOUT : 0), 0});
      size_t first_client = fds.size();
      bool take_input = pending_stdin_.size() < kMaxPendingStdin;
      for (const UniqueFd& c : clients_)
        fds.push_back({c.get(), static_cast<short>(take_input ? POLLIN : 0), 0});
      // A tty takes stdin through the same fd as output: write when there is something.
      if (tty_ && want_write) fds[2].events |= POLLOUT;

      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) accept_clients();
      if (fds[1].revents & POLLIN) drain_signals(signal_fd);
      if (fds[2].revents & POLLOUT || fds[4].revents & (POLLOUT | POLLERR)) flush_stdin();
      bool grew = false;
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) grew |= pump(out_, Stream::kStdout, buf);
      if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) grew |= pump(err_, Stream::kStderr, buf);
      if (grew) notify(Message::kOutput);
      for (size_t i = first_client; i < fds.size(); ++i)
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) serve(i - first_client);
      std::erase_if(clients_, [](const UniqueFd& c) { return !c; });

      if (status_) {
        // The process has ended: what it wrote is in the pipes now. A background child that
        // still holds them does not keep the exit from being reported.
        bool more = pump(out_, Stream::kStdout, buf) | pump(err_, Stream::kStderr, buf);
        if (more) notify(Message::kOutput);
        return *status_;
      }
    }
    return runtime::ExitStatus{.exit_code = 1};
  }

  void notify(Message m) {
    char c = static_cast<char>(m);
    for (UniqueFd& client : clients_) {
      // A client with wake-ups queued already will read the log to its end.
      if (::send(client.get(), &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
        client.reset();
    }
  }

 private:
  void accept_clients() {
    for (;;) {
      int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      clients_.emplace_back(fd);
    }
  }

  void drain_signals(int signal_fd) {
    signalfd_siginfo info;
    while (::read(signal_fd, &info, sizeof info) == sizeof info) {
    }
    auto st = process_->poll();
    if (!st) {
      std::fprintf(stderr, "tarmac-shim: %s\n", st.error().what().c_str());
      status_ = runtime::ExitStatus{.exit_code = 1};
    } else if (st->has_value()) {
      status_ = **st;
    }
  }

  // Reads what `fd` has now into the log; true if anything was appended.
  bool pump(int& fd, Stream stream, std::vector<char>& buf) {
    if (fd < 0) return false;
    bool grew = false;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return grew;
      if (n <= 0) {  // EOF, or EIO from a pty whose last holder went away
        if (!tty_) {
          auto& io = process_->stdio();
          (stream == Stream::kStdout ? io.stdout_fd : io.stderr_fd).reset();
        }
        fd = -1;
        return grew;
      }
      if (auto s = log_.append(stream, std::string_view(buf.data(), n)); !s.ok())
        std::fprintf(stderr, "tarmac-shim: %s\n", s.error().what().c_str());
      grew = true;
    }
  }

  void flush_stdin() {
    while (in_ >= 0 && !pending_stdin_.empty()) {
      ssize_t n = ::write(in_, pending_stdin_.data(), pending_stdin_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      if (n < 0) {  // the process closed its stdin: what was left cannot be delivered
        pending_stdin_.clear();
        close_stdin_now();
        return;
      }
      pending_stdin_.erase(0, n);
    }
    if (close_stdin_ && pending_stdin_.empty()) close_stdin_now();
  }

  void close_stdin_now() {
    if (tty_) {
      // A terminal has no half-close: end-of-file is ^D at the start of a line.
      if (in_ >= 0) {
        ssize_t ignored = ::write(in_, "\x04", 1);
        (void)ignored;
      }
      return;
    }
    if (in_ >= 0) {
      process_->stdio().stdin_fd.reset();
      in_ = -1;
    }
  }

  void serve(size_t index) {
    UniqueFd& client = clients_[index];
    char msg[64 * 1024 + 1];
    ssize_t n = ::recv(client.get(), msg, sizeof msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      client.reset();
      return;
    }
    switch (static_cast<Message>(msg[0])) {
      case Message::kStdin:
        if (in_ >= 0 && !close_stdin_) pending_stdin_.append(msg + 1, n - 1);
        flush_stdin();
        break;
      case Message::kCloseStdin:
        close_stdin_ = true;
        flush_stdin();
        break;
      case Message::kResize:
        if (tty_ && n >= 5) {
          winsize ws = {};
          ws.ws_row = static_cast<uint16_t>(uint8_t(msg[1]) | uint8_t(msg[2]) << 8);
          ws.ws_col = static_cast<uint16_t>(uint8_t(msg[3]) | uint8_t(msg[4]) << 8);
          ::ioctl(out_, TIOCSWINSZ, &ws);
        }
        break;
      case Message::kSignal:
        if (n >= 5) {
          int32_t sig = 0;
          std::memcpy(&sig, msg + 1, 4);
          if (sig > 0 && sig < NSIG) (void)process_->signal(sig);
        }
        break;
      default:
        client.reset();  // not a client of ours
    }
  }

  runtime::ExecutedProcessPtr process_;
  OutputLogWriter log_;
  UniqueFd listener_;
  std::vector<UniqueFd> clients_;
  int out_ = -1, err_ = -1, in_ = -1;
  bool tty_ = false;
  std::string pending_stdin_;
  bool close_stdin_ = false;
  std::optional<runtime::ExitStatus> status_;
};

// The runtime, made by the fork server from its first request's options and inherited by every
// shim forked after (it holds no descriptor): finding the cgroup hierarchies and reading the
// seccomp profile cost each fresh shim half a millisecond.
struct SharedRuntime {
  runtime::RuntimeOptions options;
  runtime::RuntimePtr runtime;
};
SharedRuntime g_shared;

runtime::Runtime* shared_runtime_for(const runtime::RuntimeOptions& options) {
  return g_shared.runtime && g_shared.options == options ? g_shared.runtime.get() : nullptr;
}

// In the fork server, once a request is on its way: its options make the shared runtime.
void learn_runtime(const char* dir) {
  if (g_shared.runtime) return;
  auto text = fs::read_file(std::string(dir) + "/" + kRequestFile);
  if (!text) return;
  auto request = parse_request(*text);
  if (!request) return;
  auto made = runtime::make_runtime(request->runtime);
  if (made) g_shared = {request->runtime, std::move(*made)};
}

// What a shim sets up before it knows its process: fd 3 (the report pipe, or a spare's
// request socket) and nothing else of its parent's, a session of its own, and SIGCHLD taken
// through a signalfd (returned).
int shim_setup() {
  ::syscall(SYS_close_range, 4, ~0U, 0);
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  ::setsid();
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &chld, nullptr);
  return ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
}

int shim_run(const char* dir, int signal_fd, int started_fd = -1);

// `forked`: started by the fork server, whose death already leaves us to init; otherwise
// exec'd by the worker, whose tree we leave by forking once more (the worker reaps the first
// process at once and init adopts the second, so the worker's death touches neither).
int shim_main(const char* dir, bool forked) {
  if (!forked) {
    pid_t first = ::fork();
    if (first < 0) fail(std::string("fork: ") + std::strerror(errno));
    if (first > 0) ::_exit(0);
  }
  return shim_run(dir, shim_setup());
}

// The shim proper, fd 3 its report pipe, set up (shim_setup) already. A spare tells the fork
// server on `started_fd` once its process runs (or it failed), so that the server makes the
// next spare then, not while this one works.
int shim_run(const char* dir, int signal_fd, int started_fd) {
  if (signal_fd < 0) fail(std::string("signalfd: ") + std::strerror(errno));
  if (::chdir(dir) != 0) fail(std::string("chdir ") + dir + ": " + std::strerror(errno));
  int log_fd = ::open("shim.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd >= 0) ::dup2(log_fd, 2);

  auto text = fs::read_file(kRequestFile);
  if (!text) fail(text.error().what());
  auto request = parse_request(*text);
  if (!request) fail(request.error().what());

  runtime::RuntimePtr own;
  runtime::Runtime* rt = shared_runtime_for(request->runtime);
  if (!rt) {
    auto made = runtime::make_runtime(request->runtime);
    if (!made) fail(made.error().what());
    own = std::move(*made);
    rt = own.get();
  }
  auto container = rt->find(request->container);
  if (!container) fail(container.error().what());
  auto listener = listen_here();
  if (!listener) fail(listener.error().what());
  auto log = OutputLogWriter::create(request->output_dir, request->retain_bytes);
  if (!log) fail(log.error().what());

  runtime::StdioConfig io;
  io.mode = request->tty ? runtime::StdioConfig::Mode::kPty : runtime::StdioConfig::Mode::kPipes;
  io.rows = request->rows;
  io.columns = request->columns;
  auto process = (*container)->exec(request->process, io);
  if (!process) fail(process.error().what());
  report("ok " + std::to_string((*process)->pid()));
  if (started_fd >= 0) {
    ssize_t ignored = ::send(started_fd, "s", 1, MSG_NOSIGNAL);
    (void)ignored;
    ::close(started_fd);
  }

  Shim shim(std::move(*process), std::move(*log), std::move(*listener), request->tty);
  runtime::ExitStatus status = shim.run(signal_fd);
  if (auto s = fs::write_file_atomic(kExitFile, runtime::exit_record(status), 0600, false); !s.ok())
    std::fprintf(stderr, "tarmac-shim: %s\n", s.error().what().c_str());
  ::unlink(kSocketFile);
  shim.notify(Message::kExited);
  return 0;
}

// A request of the fork server's: a process dir and the report pipe's write end beside it.
// Returns recvmsg's result, `dir` null-terminated and `*report` the fd (or -1).
ssize_t receive_request(int fd, char (&dir)[4096], int* report) {
  ssize_t n = receive_with_fd(fd, dir, sizeof dir - 1, report);
  if (n > 0) dir[n] = 0;
  return n;
}

// A shim forked ahead of its request, set up and warmed (the pages it will write copied now,
// not while a client waits): the fork and all that cost a millisecond or more each on small
// VMs. It waits on fd 3 for its request and runs as any shim then; it ends when the server
// does. Returns the server's end, or an invalid fd when no spare could be made.
UniqueFd start_spare() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return {};
  UniqueFd ours(sv[0]), theirs(sv[1]);
  pid_t child = ::fork();
  if (child < 0) return {};
  if (child > 0) return ours;
  ::signal(SIGCHLD, SIG_DFL);
  ::dup2(theirs.get(), kReportFd);  // replaces the worker's socket
  int signal_fd = shim_setup();
  runtime::prepare_state_codec();
  char dir[4096];
  int report = -1;
  ssize_t n;
  while ((n = receive_request(kReportFd, dir, &report)) < 0 && errno == EINTR) {
  }
  if (n <= 0 || report < 0) ::_exit(0);
  int server = ::fcntl(kReportFd, F_DUPFD_CLOEXEC, 4);
  ::dup2(report, kReportFd);
  ::close(report);
  ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
  ::_exit(shim_run(dir, signal_fd, server));
}

// The worker's fork server: exec'd once, single-threaded, it forks a shim for each request
// (a process dir, with the report pipe's write end passed along), which is much cheaper than
// exec'ing this binary per process. It ends when the worker closes its socket.
//
// With a cgroup root and parent it first moves itself into <parent>/shims, so the shims it
// forks are not in the worker's cgroup: a supervisor that stops the worker by killing its
// cgroup (bpm, systemd) leaves them, and the processes they keep, running.
int fork_server_main(int argc, char** argv) {
  constexpr int kSocketFd = 3;
  if (argc == 4) {
    auto driver = runtime::detect_cgroup_driver(argv[2]);
    auto cgroup = driver ? (*driver)->create(std::string(argv[3]) + "/shims")
                         : Result<runtime::CgroupPtr>(driver.error());
    Status moved = cgroup ? (*cgroup)->add_process(::getpid()) : Status(cgroup.error());
    if (!moved.ok()) {
      std::fprintf(stderr, "tarmac-shim: fork server: %s\n", moved.error().what().c_str());
      return 1;
    }
  }
  // Built once here rather than in every shim we fork (see prepare_state_codec; the host's
  // last capability, read once, is asked for by every exec).
  runtime::prepare_state_codec();
  (void)runtime::host_last_cap();
  ::signal(SIGCHLD, SIG_IGN);
  // `spare` waits for a request; `handed` got the last one, and says when its process runs
  // (or closes): only then is the next spare forked, off the path of the request before.
  UniqueFd spare = start_spare(), handed;
  for (;;) {
    pollfd fds[2] = {{kSocketFd, POLLIN, 0}, {handed.get(), POLLIN, 0}};
    if (::poll(fds, handed ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (handed && fds[1].revents) {
      handed.reset();
      if (!spare) spare = start_spare();
    }
    if (!fds[0].revents) continue;
    char dir[4096];
    int report = -1;
    ssize_t n = receive_request(kSocketFd, dir, &report);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;      // the worker is gone (and the spare, seeing EOF, goes too)
    if (report < 0) continue;  // not a request of the worker's
    if (spare && send_with_fd(spare.get(), dir, report)) {
      handed = std::move(spare);
    } else {
      // No spare ready (requests came faster than they were made): a shim forked now.
      pid_t child = ::fork();
      if (child == 0) {
        ::signal(SIGCHLD, SIG_DFL);  // the shim waits for its process
        ::dup2(report, kReportFd);   // replaces the socket: the shim holds nothing of ours
        ::close(report);
        ::_exit(shim_main(dir, true));
      }
      spare.reset();
      if (!handed) spare = start_spare();
    }
    ::close(report);
    learn_runtime(dir);
  }
}

}  // namespace
}  // namespace tarmac::shim

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "--fork-server")
    return tarmac::shim::fork_server_main(argc, argv);
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: tarmac-shim DIR | tarmac-shim --fork-server [CGROUP_ROOT CGROUP_PARENT]\n"
                 "(started by tarmac worker)\n");
    return 2;
  }
  return tarmac::shim::shim_main(argv[1], false);
}
