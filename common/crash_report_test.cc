#include "common/crash_report.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace tarmac {
namespace {

struct Outcome {
  int status = 0;
  std::string err;
};

// Runs `body` in a child with the crash report installed; its wait status and stderr.
Outcome in_child(const std::function<void()>& body) {
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    install_crash_report("crashtest");
    body();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  Outcome o;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    o.err.append(buf, static_cast<size_t>(n));
  }
  ::close(pipefd[0]);
  ::waitpid(pid, &o.status, 0);
  return o;
}

TEST(CrashReportTest, AFatalSignalIsReportedWithABacktraceAndStillKills) {
  auto o = in_child([] {
    volatile int* null = nullptr;
    *null = 1;
  });
  ASSERT_TRUE(WIFSIGNALED(o.status)) << o.err;
  EXPECT_EQ(WTERMSIG(o.status), SIGSEGV);
  EXPECT_NE(o.err.find("crashtest: fatal signal SIGSEGV"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("backtrace"), std::string::npos) << o.err;
  // At least one frame line of the backtrace.
  EXPECT_NE(o.err.find("[0x"), std::string::npos) << o.err;
}

TEST(CrashReportTest, AnUncaughtExceptionSaysWhatItWas) {
  // From a thread, as in a daemon (gtest would catch it on this one).
  auto o =
      in_child([] { std::thread([] { throw std::runtime_error("the disk is lava"); }).join(); });
  ASSERT_TRUE(WIFSIGNALED(o.status)) << o.err;
  EXPECT_EQ(WTERMSIG(o.status), SIGABRT);
  EXPECT_NE(o.err.find("crashtest: terminate: uncaught exception: the disk is lava"),
            std::string::npos)
      << o.err;
  // Once: the abort that follows is not reported again as a signal.
  EXPECT_EQ(o.err.find("fatal signal"), std::string::npos) << o.err;
}

TEST(CrashReportTest, AWriteToAClosedPipeIsAnErrorNotADeath) {
  auto o = in_child([] {
    int p[2];
    if (::pipe(p) != 0) ::_exit(3);
    ::close(p[0]);
    ssize_t n = ::write(p[1], "x", 1);
    ::_exit(n < 0 && errno == EPIPE ? 0 : 4);
  });
  ASSERT_TRUE(WIFEXITED(o.status)) << "status " << o.status << ": " << o.err;
  EXPECT_EQ(WEXITSTATUS(o.status), 0);
}

}  // namespace
}  // namespace tarmac
