#pragma once

#include <utility>

namespace tarmac {

// Runs `fn` when the scope ends, however it ends: the undo of a multi-step setup, disarmed by
// the caller's own "done" flag once every step succeeded.
template <typename F>
class ScopeExit {
 public:
  explicit ScopeExit(F fn) : fn_(std::move(fn)) {}
  ~ScopeExit() { fn_(); }
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;

 private:
  F fn_;
};

}  // namespace tarmac
