#include "tests/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "common/fs.h"
#include "tests/testutil.h"

namespace tarmac::testing {

std::string ServerProcess::start() {
  int out[2];
  if (::pipe(out) != 0) return "pipe";
  pid_ = ::fork();
  if (pid_ < 0) return "fork";
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
    ::dup2(out[1], 1);
    if (!stderr_path_.empty()) {
      int err = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) ::dup2(err, 2);
    }
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  // Lines before the listening line (other ports a server announces) are kept.
  std::string line;
  for (;;) {
    line.clear();
    char c;
    bool got = false;
    while (::read(out[0], &c, 1) == 1) {
      got = true;
      if (c == '\n') break;
      line += c;
    }
    if (!got || line.rfind("listening on ", 0) == 0) break;
    preamble_.push_back(line);
  }
  ::close(out[0]);
  auto colon = line.rfind(':');
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos)
    return args_[0] + ": no listening line, got \"" + line + "\"";
  port_ = std::atoi(line.c_str() + colon + 1);
  return "";
}

int ServerProcess::stop(int sig) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

int ServerProcess::wait_exit(int timeout_ms) {
  if (pid_ <= 0) return -1;
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    ::usleep(20000);
  }
  return -1;
}

std::string ServerProcess::died() {
  int status = 0;
  if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    if (WIFSIGNALED(status)) {
      const char* name = ::sigabbrev_np(WTERMSIG(status));
      died_ = std::string("killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)));
    } else {
      died_ = "exited with status " + std::to_string(WEXITSTATUS(status));
    }
  }
  return died_;
}

void ServerProcess::expect_not_died(const std::string& what, const std::string& log_path) {
  std::string how = died();
  if (how.empty()) return;
  auto log = fs::read_file(log_path);
  ADD_FAILURE() << what << " " << how << " during the test; the end of its log:\n"
                << (log ? tail(*log) : "(" + log_path + " unreadable)");
}

}  // namespace tarmac::testing
