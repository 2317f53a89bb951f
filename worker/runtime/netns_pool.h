#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

#include "common/unique_fd.h"

namespace tarmac::runtime {

// Network namespaces made ahead of need, each with its loopback up, for containers that get a
// network of their own outside a user namespace (a user namespace must own its container's
// network namespace, so those still make theirs at clone). Making one costs the kernel
// 0.3-0.6 ms on this project's VMs, on the path of every such create; here a thread of the
// caller's makes them beforehand. Each is handed out once, fresh: a container's network
// namespace is never used again.
class NetnsPool {
 public:
  // The process's pool: its thread starts on the first take() and lives until the process
  // ends (a process that forked gets nothing from its parent's pool, see take()).
  static NetnsPool& instance();

  // A fresh namespace to setns(2) into, or an empty fd when none is ready or namespaces cannot
  // be made here: the caller then makes its own, as without a pool.
  UniqueFd take();

  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;

 private:
  NetnsPool() = default;
  void refill();

  static constexpr size_t kReady = 4;
  std::atomic<pid_t> owner_{-1};  // the process whose thread fills the pool
  std::mutex mu_;
  std::condition_variable wanted_;
  std::deque<UniqueFd> ready_;
  bool broken_ = false;  // namespaces cannot be made here: take() gives nothing from then on
};

}  // namespace tarmac::runtime
