#include "worker/runtime/spawn.h"

#include <pthread.h>
#include <sys/mman.h>

#include <utility>

#include "worker/runtime/raw_syscall.h"

namespace tarmac::runtime {

Result<ChildStack> ChildStack::make(size_t size) {
  // A guard page below, so an overflow faults instead of writing into a neighbour.
  const size_t guard = 4096;
  void* p = ::mmap(nullptr, size + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return sys_error("map child stack");
  if (::mprotect(p, guard, PROT_NONE) != 0) {
    Error e = sys_error("protect child stack guard");
    ::munmap(p, size + guard);
    return e;
  }
  return ChildStack(p, size + guard);
}

ChildStack::ChildStack(ChildStack&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)), size_(std::exchange(o.size_, 0)) {}

ChildStack& ChildStack::operator=(ChildStack&& o) noexcept {
  if (this != &o) {
    if (base_) ::munmap(base_, size_);
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

ChildStack::~ChildStack() {
  if (base_) ::munmap(base_, size_);
}

SignalsBlocked::SignalsBlocked() {
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old_);
}

SignalsBlocked::~SignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &old_, nullptr); }

void reset_signal_handlers() {
  // Raw: errno is the creator's, and glibc's sigaction refuses its own signals (32, 33).
  KernelSigaction dfl = {};
  for (int sig = 1; sig <= 64; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP)
      raw_syscall(SYS_rt_sigaction, sig, reinterpret_cast<long>(&dfl), 0, sizeof dfl.mask);
}

}  // namespace tarmac::runtime
