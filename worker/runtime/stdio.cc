#include "worker/runtime/stdio.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace tarmac::runtime {
namespace {

Result<UniqueFd> open_log(const std::string& path, uid_t owner, gid_t group) {
  if (path.empty()) return Error("kFiles needs stdout_path and stderr_path");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return sys_error("open log " + path);
  if (::fchown(fd.get(), owner, group) != 0) return sys_error("chown log " + path);
  return fd;
}

Status pipe_pair(UniqueFd& read_end, UniqueFd& write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("pipe");
  read_end.reset(p[0]);
  write_end.reset(p[1]);
  return {};
}

}  // namespace

namespace {

// A pty pair from the devpts behind `ptmx`: the slave opened from the master (TIOCGPTPEER),
// no path of it looked up on this side.
bool open_pty_in(const std::string& ptmx, UniqueFd& master, UniqueFd& slave) {
  UniqueFd m(::open(ptmx.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!m) return false;
  int unlock = 0;
  if (::ioctl(m.get(), TIOCSPTLCK, &unlock) != 0) return false;
  UniqueFd s(::ioctl(m.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!s) return false;
  master = std::move(m);
  slave = std::move(s);
  return true;
}

}  // namespace

Result<OpenedStdio> open_stdio(const StdioConfig& config, const std::string& ptmx) {
  OpenedStdio io;
  using Mode = StdioConfig::Mode;
  switch (config.mode) {
    case Mode::kInherit:
      for (int i = 0; i < 3; ++i) {
        io.child[i].reset(::fcntl(i, F_DUPFD_CLOEXEC, 3));
        if (!io.child[i]) return sys_error("dup fd " + std::to_string(i));
      }
      return io;
    case Mode::kNull:
    case Mode::kFiles: {
      UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
      if (!null_fd) return sys_error("open /dev/null");
      if (config.mode == Mode::kNull) {
        for (int i = 1; i < 3; ++i) io.child[i].reset(::fcntl(null_fd.get(), F_DUPFD_CLOEXEC, 3));
      } else {
        auto out = open_log(config.stdout_path, config.files_owner, config.files_group);
        if (!out) return std::move(out).error();
        auto err = open_log(config.stderr_path, config.files_owner, config.files_group);
        if (!err) return std::move(err).error();
        io.child[1] = std::move(*out);
        io.child[2] = std::move(*err);
      }
      io.child[0] = std::move(null_fd);
      return io;
    }
    case Mode::kPipes:
      TARMAC_RETURN_IF_ERROR(pipe_pair(io.child[0], io.parent.stdin_fd), "stdin");
      TARMAC_RETURN_IF_ERROR(pipe_pair(io.parent.stdout_fd, io.child[1]), "stdout");
      TARMAC_RETURN_IF_ERROR(pipe_pair(io.parent.stderr_fd, io.child[2]), "stderr");
      return io;
    case Mode::kPty: {
      UniqueFd master, slave;
      if (ptmx.empty() || !open_pty_in(ptmx, master, slave)) {
        master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!master) return sys_error("posix_openpt");
        if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0)
          return sys_error("unlock pty");
        char name[128];
        if (::ptsname_r(master.get(), name, sizeof name) != 0) return sys_error("ptsname");
        slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
        if (!slave) return sys_error(std::string("open ") + name);
      }
      // The size is there before the process starts: it may ask at once.
      if (config.rows && config.columns) {
        winsize ws = {};
        ws.ws_row = config.rows;
        ws.ws_col = config.columns;
        if (::ioctl(master.get(), TIOCSWINSZ, &ws) != 0) return sys_error("set pty size");
      }
      for (int i = 0; i < 3; ++i) io.child[i].reset(::fcntl(slave.get(), F_DUPFD_CLOEXEC, 3));
      io.is_pty = true;
      io.parent.pty_master = std::move(master);
      return io;
    }
  }
  return Error("unknown stdio mode");
}

}  // namespace tarmac::runtime
