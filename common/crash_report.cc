#include "common/crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <string>

namespace tarmac {
namespace {

const char* g_program = "tarmac";

// Only async-signal-safe calls from here on: the process may be anywhere.
void say(const char* s) {
  size_t n = ::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void backtrace_to_stderr() {
  void* frames[64];
  int n = ::backtrace(frames, 64);
  say("backtrace (addr2line -Cfe <binary> +offset):\n");
  ::backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

void on_fatal_signal(int sig) {
  say(g_program);
  say(": fatal signal SIG");
  const char* name = ::sigabbrev_np(sig);
  say(name ? name : "?");
  say("\n");
  backtrace_to_stderr();
  // Die of the same signal, so the parent's wait status tells the truth.
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Allocates nothing: the heap may be what failed.
void on_terminate() {
  say(g_program);
  say(": terminate: ");
  if (auto e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      say("uncaught exception: ");
      say(ex.what());
    } catch (...) {
      say("uncaught exception of a type not derived from std::exception");
    }
  } else {
    say("std::terminate without an exception (a joinable thread destroyed?)");
  }
  say("\n");
  backtrace_to_stderr();
  ::signal(SIGABRT, SIG_DFL);
  std::abort();
}

}  // namespace

void install_crash_report(const char* program) {
  g_program = program;
  ::signal(SIGPIPE, SIG_IGN);
  // The first backtrace() loads libgcc's unwinder (it allocates); not in a signal handler.
  void* warm[1];
  ::backtrace(warm, 1);
  // A stack of its own, so a stack overflow of this thread can be reported too (other
  // threads have none: theirs still die of SIGSEGV, unreported).
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof(alt_stack);
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) ::sigaction(sig, &sa, nullptr);
  std::set_terminate(on_terminate);
}

}  // namespace tarmac
