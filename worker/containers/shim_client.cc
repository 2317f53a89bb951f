#include "worker/containers/shim_client.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/fd_passing.h"

namespace tarmac::containers {

namespace {

// posix_spawn of tarmac-shim with `fd` as its fd 3 and stdio on /dev/null, signals at their
// defaults whatever the worker's threads block.
Result<pid_t> spawn_with_fd3(const std::string& shim_path, const std::vector<std::string>& args,
                             int fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  std::string arg0 = "tarmac-shim";
  argv.push_back(arg0.data());
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char* envp[] = {nullptr};
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, shim_path.c_str(), &actions, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Error("start shim " + shim_path, err);
  return pid;
}

// The shim's one line: "ok <pid>" or "error <message>". Not until EOF, since the shim keeps
// the pipe open as long as it runs.
Result<pid_t> read_report(int fd, const std::string& dir) {
  std::string line;
  char c;
  for (;;) {
    ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line += c;
  }
  if (line.rfind("ok ", 0) == 0) return static_cast<pid_t>(std::atoi(line.c_str() + 3));
  if (line.rfind("error ", 0) == 0) return Error(line.substr(6));
  return Error("shim for " + dir + " ended without saying whether the process started");
}

}  // namespace

Result<pid_t> spawn_shim(const std::string& shim_path, const std::string& dir) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("start shim: pipe");
  UniqueFd read_end(report[0]), write_end(report[1]);
  auto pid = spawn_with_fd3(shim_path, {dir}, write_end.get());
  if (!pid) return std::move(pid).error();
  write_end.reset();
  // The shim forks away at once; its first process ends here.
  while (::waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return read_report(read_end.get(), dir);
}

ShimSpawner::~ShimSpawner() {
  std::lock_guard lock(mu_);
  stop_server();
}

void ShimSpawner::stop_server() {
  socket_.reset();  // the server sees EOF and ends
  if (server_ > 0)
    while (::waitpid(server_, nullptr, 0) < 0 && errno == EINTR) {
    }
  server_ = -1;
}

Status ShimSpawner::start_server() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return sys_error("shim fork server: socketpair");
  UniqueFd ours(sv[0]), theirs(sv[1]);
  std::vector<std::string> args = {"--fork-server"};
  args.insert(args.end(), server_args_.begin(), server_args_.end());
  auto pid = spawn_with_fd3(shim_path_, args, theirs.get());
  if (!pid) return std::move(pid).error().wrap("shim fork server");
  socket_ = std::move(ours);
  server_ = *pid;
  return {};
}

bool ShimSpawner::request(const std::string& dir, int report_fd) {
  return socket_ && send_with_fd(socket_.get(), dir, report_fd);
}

Result<pid_t> ShimSpawner::spawn(const std::string& dir) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("start shim: pipe");
  UniqueFd read_end(report[0]), write_end(report[1]);
  bool sent = false;
  {
    std::lock_guard lock(mu_);
    for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
      if (!socket_) {
        stop_server();
        if (!start_server().ok()) break;
      }
      sent = request(dir, write_end.get());
      if (!sent) socket_.reset();  // a dead server: start another
    }
  }
  if (!sent) return spawn_shim(shim_path_, dir);
  write_end.reset();
  return read_report(read_end.get(), dir);
}

Result<std::optional<ShimConnection>> ShimConnection::connect(const std::string& dir) {
  // Through the directory's fd: the socket's full path may not fit in sun_path.
  UniqueFd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return sys_error("open process dir " + dir);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("socket");
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir_fd.get(),
                shim::kSocketFile);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == ENOENT || errno == ECONNREFUSED) return std::optional<ShimConnection>();
    return sys_error("connect to shim in " + dir);
  }
  return std::optional<ShimConnection>(ShimConnection(std::move(fd)));
}

Status ShimConnection::send(shim::Message type, std::string_view payload) {
  std::string msg(1, static_cast<char>(type));
  msg.append(payload);
  if (::send(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL) < 0) return sys_error("send to shim");
  return {};
}

Status ShimConnection::send_stdin(std::string_view data) {
  // The shim reads messages of up to 64 KiB.
  while (!data.empty()) {
    size_t n = std::min<size_t>(data.size(), 32 * 1024);
    TARMAC_TRY(send(shim::Message::kStdin, data.substr(0, n)));
    data.remove_prefix(n);
  }
  return {};
}

Status ShimConnection::close_stdin() { return send(shim::Message::kCloseStdin, {}); }

Status ShimConnection::resize(uint16_t rows, uint16_t columns) {
  char b[4] = {static_cast<char>(rows & 0xff), static_cast<char>(rows >> 8),
               static_cast<char>(columns & 0xff), static_cast<char>(columns >> 8)};
  return send(shim::Message::kResize, std::string_view(b, 4));
}

Status ShimConnection::signal(int sig) {
  int32_t s = sig;
  char b[4];
  std::memcpy(b, &s, 4);
  return send(shim::Message::kSignal, std::string_view(b, 4));
}

Result<std::optional<shim::Message>> ShimConnection::wait(int timeout_ms) {
  pollfd p = {fd_.get(), POLLIN, 0};
  int r = ::poll(&p, 1, timeout_ms);
  if (r < 0 && errno != EINTR) return sys_error("wait for shim");
  if (r <= 0) return std::optional<shim::Message>();
  char c = 0;
  ssize_t n = ::recv(fd_.get(), &c, 1, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return std::optional<shim::Message>();
  if (n <= 0) return Error("shim closed the connection");
  return std::optional<shim::Message>(static_cast<shim::Message>(c));
}

}  // namespace tarmac::containers
