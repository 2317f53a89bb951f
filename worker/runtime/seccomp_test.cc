#include "worker/runtime/seccomp.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "worker/runtime/capabilities.h"

namespace tarmac::runtime {
namespace {

// Runs `fn` in a forked child under the default filter; returns its exit code.
int under_filter(int (*fn)()) {
  auto prog = build_default_seccomp();
  if (!prog.ok()) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (prog->load() != 0) ::_exit(100);
    ::_exit(fn());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

// The refused calls get EPERM (clone3 ENOSYS); exit 0 means every check held.
TEST(Seccomp, RefusesDangerousCalls) {
  EXPECT_EQ(under_filter([] {
              if (::unshare(CLONE_NEWNS) == 0 || errno != EPERM) return 1;
              if (::mount("none", "/mnt", "tmpfs", 0, nullptr) == 0 || errno != EPERM) return 2;
              if (::syscall(SYS_keyctl, 0, 0, 0, 0, 0) == 0 || errno != EPERM) return 3;
              if (::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) == 0 || errno != EPERM) return 4;
              if (::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) >= 0 || errno != EPERM)
                return 5;
              struct clone_args args = {};
              if (::syscall(SYS_clone3, &args, sizeof args) >= 0 || errno != ENOSYS) return 6;
              if (::syscall(SYS_setns, 0, 0) == 0 || errno != EPERM) return 7;
              if (::syscall(SYS_bpf, 0, nullptr, 0) == 0 || errno != EPERM) return 8;
              return 0;
            }),
            0);
}

// Ordinary work still runs: files, fork and wait, exec.
TEST(Seccomp, AllowsOrdinaryWork) {
  EXPECT_EQ(under_filter([] {
              if (::getpid() <= 0) return 1;
              int fd = ::open("/proc/self/status", O_RDONLY);
              char buf[16];
              if (fd < 0 || ::read(fd, buf, sizeof buf) <= 0) return 2;
              pid_t child = ::fork();
              if (child == 0) ::_exit(7);
              int status = 0;
              if (::waitpid(child, &status, 0) != child || WEXITSTATUS(status) != 7) return 3;
              pid_t exec_child = ::fork();
              if (exec_child == 0) {
                ::execl("/bin/true", "true", nullptr);
                ::_exit(9);
              }
              if (::waitpid(exec_child, &status, 0) != exec_child || WEXITSTATUS(status) != 0)
                return 4;
              return 0;
            }),
            0);
}

// The allowlist is large and holds none of the refused calls.
TEST(Seccomp, AllowlistContents) {
  auto names = default_seccomp_allowlist();
  EXPECT_GE(names.size(), 250u);
  for (const char* refused :
       {"mount",  "umount2",         "unshare",           "setns",        "pivot_root",
        "keyctl", "add_key",         "request_key",       "ptrace",       "kexec_load",
        "bpf",    "perf_event_open", "init_module",       "finit_module", "delete_module",
        "reboot", "swapon",          "open_by_handle_at", "userfaultfd",  "clone3"})
    EXPECT_EQ(std::find(names.begin(), names.end(), refused), names.end()) << refused;
}

// A named capability is all a non-root process keeps, across exec (ambient).
TEST(Capabilities, NamedCapabilityOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change credentials";
  auto caps = capabilities_from_names({"net_bind_service"});
  ASSERT_TRUE(caps.ok());
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 1);
    if (drop_bounding_capabilities(*caps) || ::setresgid(65534, 65534, 65534) ||
        ::setresuid(65534, 65534, 65534) || apply_capabilities(*caps))
      ::_exit(1);
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_port = htons(80);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EADDRINUSE)
      ::_exit(2);
    ::execl("/bin/grep", "grep", "^Cap", "/proc/self/status", nullptr);
    ::_exit(3);
  }
  ::close(p[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(out,
            "CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\n"
            "CapBnd:\t0000000000000400\nCapAmb:\t0000000000000400\n");
}

// Unknown names are errors naming them.
TEST(Capabilities, UnknownName) {
  auto caps = capabilities_from_names({"NET_BIND_SERVICE", "FLY"});
  ASSERT_FALSE(caps.ok());
  EXPECT_NE(caps.error().message().find("\"FLY\""), std::string::npos);
  EXPECT_TRUE(capabilities_from_names({"CAP_SYS_ADMIN", "chown"}).ok());
}

}  // namespace
}  // namespace tarmac::runtime
