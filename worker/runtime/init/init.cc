// tarmac-init: pid 1 of every container. It forwards signals to the main process, reaps
// every zombie, and when the main process ends writes how into the container's exit file (an
// fd the runtime passed in, the only host file it can reach) and exits with the same code.
//
// usage: tarmac-init MAIN_PID EXIT_FD [READY_FD]
// READY_FD: a socket the main process waits on; one byte there says init runs as itself (no
// longer in its creator's memory), and the main process may exec. MAIN_PID 0: no main process. Init
// holds the container alone until a signal that would end a process by default, which it records as
// its own end (processes come in by exec).
//
// Freestanding (no libc, raw syscalls, its own _start): a static glibc costs every container
// ~0.8 ms of start-up page faults on small VMs and ~80 KiB resident; this costs neither.
#include <asm/signal.h>
#include <linux/prctl.h>
#include <linux/wait.h>
#include <sys/syscall.h>

#include "worker/runtime/raw_syscall.h"

using tarmac::runtime::KernelSigaction;
using tarmac::runtime::raw_syscall;

// The compiler may call these for struct copies and zeroing even without a libc.
extern "C" void* memset(void* d, int c, unsigned long n) {
  auto* p = static_cast<unsigned char*>(d);
  while (n--) *p++ = static_cast<unsigned char>(c);
  return d;
}
extern "C" void* memcpy(void* d, const void* s, unsigned long n) {
  auto* p = static_cast<unsigned char*>(d);
  const auto* q = static_cast<const unsigned char*>(s);
  while (n--) *p++ = *q++;
  return d;
}

namespace {

constexpr unsigned long kAllSignals = ~0UL;
constexpr long kMsgNoSignal = 0x4000;  // MSG_NOSIGNAL, the same on every Linux architecture
constexpr int kSigsetSize = sizeof(unsigned long);

extern "C" void tarmac_init_restorer();

void on_signal(int) {}

[[noreturn]] void exit_with(int code) {
  for (;;) raw_syscall(SYS_exit_group, code);
}

bool parse_int(const char* s, long& out) {
  if (!s || !*s) return false;
  bool neg = *s == '-';
  if (neg) ++s;
  long v = 0;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9' || v > 100000000) return false;
    v = v * 10 + (*s - '0');
  }
  out = neg ? -v : v;
  return true;
}

// "exited 3\n" or "signaled 9\n" written with one pwrite so a reader sees all or nothing.
void record(int fd, bool signaled, int value) {
  char buf[32];
  const char* word = signaled ? "signaled " : "exited ";
  int n = 0;
  while (*word) buf[n++] = *word++;
  char digits[12];
  int d = 0;
  do digits[d++] = static_cast<char>('0' + value % 10);
  while ((value /= 10) && d < 11);
  while (d) buf[n++] = digits[--d];
  buf[n++] = '\n';
  while (raw_syscall(SYS_pwrite64, fd, reinterpret_cast<long>(buf), n, 0) == -EINTR) {
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

int run(int argc, char** argv) {
  long main_pid = 0, exit_fd = 0, ready_fd = -1;
  if (argc < 3 || argc > 4 || !parse_int(argv[1], main_pid) || !parse_int(argv[2], exit_fd) ||
      (argc == 4 && !parse_int(argv[3], ready_fd)))
    return 111;
  if (main_pid < 0 || exit_fd < 3) return 111;
  if (ready_fd >= 3) {
    char byte = 'r';
    // A socket, sent to without SIGPIPE: a main process already gone must not have us
    // forward a signal of our own making.
    raw_syscall(SYS_sendto, ready_fd, reinterpret_cast<long>(&byte), 1, kMsgNoSignal, 0, 0);
    raw_syscall(SYS_close, ready_fd);
  }

  // Nobody in the container may ptrace us to reach exit_fd.
  raw_syscall(SYS_prctl, PR_SET_DUMPABLE, 0);
  // Outside a pid namespace (bpm's host_pid_namespace) orphans still come to us.
  raw_syscall(SYS_prctl, PR_SET_CHILD_SUBREAPER, 1);

  // A pid-namespace init ignores signals it has no handler for, even blocked ones, so every
  // forwarded signal gets a handler; all stay blocked and are taken with sigtimedwait.
  unsigned long all = kAllSignals;
  raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&all), 0, kSigsetSize);
  KernelSigaction sa = {on_signal, SA_RESTORER, tarmac_init_restorer, 0};
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    raw_syscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&sa), 0, kSigsetSize);
  }

  for (;;) {
    // Reap first: the main process may have ended before we got here.
    for (;;) {
      int status = 0;
      long pid = raw_syscall(SYS_wait4, -1, reinterpret_cast<long>(&status), WNOHANG, 0);
      if (pid <= 0) break;
      if (pid == main_pid) {
        bool signaled = (status & 0x7f) != 0;
        int value = signaled ? (status & 0x7f) : ((status >> 8) & 0xff);
        record(static_cast<int>(exit_fd), signaled, value);
        return signaled ? 128 + value : value;
      }
    }
    unsigned char info[128];
    long sig = raw_syscall(SYS_rt_sigtimedwait, reinterpret_cast<long>(&all),
                           reinterpret_cast<long>(info), 0, kSigsetSize);
    if (sig < 0 || sig == SIGCHLD) continue;
    if (main_pid > 0) {
      raw_syscall(SYS_kill, main_pid, sig);
    } else if (ends_by_default(static_cast<int>(sig))) {
      record(static_cast<int>(exit_fd), true, static_cast<int>(sig));  // as if killed by it
      return 128 + static_cast<int>(sig);
    }
  }
}

}  // namespace

extern "C" [[noreturn]] void tarmac_init_main(long* stack) {
  int argc = static_cast<int>(stack[0]);
  exit_with(run(argc, reinterpret_cast<char**>(stack + 1)));
}

#if defined(__x86_64__)
asm(".text\n"
    ".global _start\n"
    "_start:\n"
    "  xor %rbp, %rbp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call tarmac_init_main\n"
    "  hlt\n"
    "tarmac_init_restorer:\n"
    "  mov $15, %rax\n"  // rt_sigreturn
    "  syscall\n");
#elif defined(__aarch64__)
asm(".text\n"
    ".global _start\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, sp\n"
    "  and sp, x0, #-16\n"
    "  bl tarmac_init_main\n"
    "tarmac_init_restorer:\n"
    "  mov x8, #139\n"  // rt_sigreturn
    "  svc 0\n");
#else
#error "tarmac-init: _start is written for x86_64 and aarch64 only"
#endif
