// tarmac-init: pid 1 of every container. Static and small so that an idle container costs
// little memory. It forwards signals to the main process, reaps every zombie, and when the
// main process ends writes how into the container's exit file (an fd the runtime passed in,
// the only host file it can reach) and exits with the same code.
//
// usage: tarmac-init MAIN_PID EXIT_FD
// MAIN_PID 0: no main process. Init holds the container alone until a signal that would end
// a process by default, which it records as its own end (processes come in by exec).
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

namespace {

void on_signal(int) {}

// "exited 3\n" or "signaled 9\n" written with one pwrite so a reader sees all or nothing.
void record(int fd, int status) {
  char buf[32];
  const char* word = WIFSIGNALED(status) ? "signaled " : "exited ";
  int value = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
  size_t n = std::strlen(word);
  std::memcpy(buf, word, n);
  char digits[12];
  int d = 0;
  do digits[d++] = static_cast<char>('0' + value % 10);
  while ((value /= 10) && d < 11);
  while (d) buf[n++] = digits[--d];
  buf[n++] = '\n';
  while (pwrite(fd, buf, n, 0) < 0 && errno == EINTR) {
  }
}

// The signals whose default action is not to end a process.
bool ends_by_default(int sig) {
  switch (sig) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return false;
    default:
      return true;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 111;
  pid_t main_pid = static_cast<pid_t>(std::atoi(argv[1]));
  int exit_fd = std::atoi(argv[2]);
  if (main_pid < 0 || exit_fd < 3) return 111;

  // Nobody in the container may ptrace us to reach exit_fd.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Outside a pid namespace (bpm's host_pid_namespace) orphans still come to us.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  // A pid-namespace init ignores signals it has no handler for, even blocked ones, so every
  // forwarded signal gets a handler and is then taken synchronously with sigwaitinfo.
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  struct sigaction sa = {};
  sa.sa_handler = on_signal;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, nullptr);
  }

  for (;;) {
    // Reap first: the main process may have ended before we got here.
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      if (pid == main_pid) {
        record(exit_fd, status);
        return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
      }
    }
    siginfo_t info;
    int sig = sigwaitinfo(&all, &info);
    if (sig < 0 || sig == SIGCHLD) continue;
    if (main_pid > 0) {
      kill(main_pid, sig);
    } else if (ends_by_default(sig)) {
      record(exit_fd, sig);  // a wait status of "killed by sig"
      return 128 + sig;
    }
  }
}
