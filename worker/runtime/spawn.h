#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstddef>

#include "common/result.h"

namespace tarmac::runtime {

// A stack for a child cloned with CLONE_VM. Such a child shares our memory until it execs,
// which is what makes it cheap: no page table is copied for it and none torn down at its
// exec (on this project's VMs a fork of a big process costs a millisecond or more, a shared
// clone 30 µs). It runs on a stack of its own, which must outlive it: unmap only once the
// child has exec'd or died.
class ChildStack {
 public:
  static Result<ChildStack> make(size_t size = 256 * 1024);
  ChildStack() = default;
  ChildStack(ChildStack&& o) noexcept;
  ChildStack& operator=(ChildStack&& o) noexcept;
  ChildStack(const ChildStack&) = delete;
  ChildStack& operator=(const ChildStack&) = delete;
  ~ChildStack();

  // Where the stack starts (it grows down).
  void* top() const { return static_cast<char*>(base_) + size_; }

 private:
  ChildStack(void* base, size_t size) : base_(base), size_(size) {}
  void* base_ = nullptr;
  size_t size_ = 0;
};

// Blocks every signal of the calling thread while it lives. A CLONE_VM child starts with our
// signal handlers, and a handler run in it would write into our memory: clone under this,
// and let the child set default dispositions before it unblocks anything.
class SignalsBlocked {
 public:
  SignalsBlocked();
  ~SignalsBlocked();
  SignalsBlocked(const SignalsBlocked&) = delete;
  SignalsBlocked& operator=(const SignalsBlocked&) = delete;

 private:
  sigset_t old_;
};

// In a CLONE_VM child, before anything else: every handler back to the default, so that no
// signal can run our caller's code on shared memory. Signals stay blocked.
void reset_signal_handlers();

}  // namespace tarmac::runtime
