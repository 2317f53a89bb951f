#include "worker/runtime/netns_pool.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/result.h"

namespace tarmac::runtime {
namespace {

Status bring_up_loopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("socket for loopback");
  struct ifreq ifr = {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("get flags of lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("bring up lo");
  return {};
}

// A new network namespace, made by moving the calling thread into it and back to `home`:
// the thread must not keep a namespace alive after its container has ended.
Result<UniqueFd> make_netns(int home) {
  if (::unshare(CLONE_NEWNET) != 0) return sys_error("unshare network namespace");
  UniqueFd ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  Status up = ns ? bring_up_loopback() : sys_error("open /proc/thread-self/ns/net");
  if (::setns(home, CLONE_NEWNET) != 0) return sys_error("return to the network namespace");
  if (!up) return std::move(up).error().wrap("new network namespace");
  return ns;
}

// What cannot get better by waiting: namespaces are not allowed or not there at all.
bool permanent(const Error& e) {
  return e.errnum() == EPERM || e.errnum() == EINVAL || e.errnum() == ENOSYS;
}

}  // namespace

NetnsPool& NetnsPool::instance() {
  // Never destroyed: its thread runs until the process ends.
  static NetnsPool* pool = new NetnsPool();
  return *pool;
}

UniqueFd NetnsPool::take() {
  // A forked child has our memory but not our thread, and maybe a lock held by it forever:
  // it takes nothing from its parent's pool. Ownership is claimed before the lock is ever
  // taken, so no fork can see the lock held and no owner.
  const pid_t self = ::getpid();
  pid_t owner = -1;
  const bool first = owner_.compare_exchange_strong(owner, self, std::memory_order_acq_rel);
  if (!first && owner != self) return {};
  std::unique_lock lock(mu_);
  if (first) {
    try {
      std::thread([this] { refill(); }).detach();
    } catch (const std::system_error& e) {
      spdlog::warn("network namespace pool: no thread ({}); containers make their own", e.what());
      broken_ = true;
    }
  }
  if (broken_ || ready_.empty()) return {};
  UniqueFd fd = std::move(ready_.front());
  ready_.pop_front();
  wanted_.notify_one();
  return fd;
}

void NetnsPool::refill() {
  auto stop = [this](const std::string& why) {
    spdlog::warn("network namespace pool: {}; containers make their own", why);
    std::lock_guard lock(mu_);
    broken_ = true;
    ready_.clear();
  };
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) return stop(sys_error("open /proc/thread-self/ns/net").what());
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wanted_.wait(lock, [this] { return ready_.size() < kReady; });
    }
    auto ns = make_netns(home.get());
    if (ns) {
      backoff = std::chrono::milliseconds(100);
      std::lock_guard lock(mu_);
      ready_.push_back(std::move(*ns));
      continue;
    }
    if (permanent(ns.error())) return stop(ns.error().what());
    // Out of namespaces (user.max_net_namespaces), descriptors or memory for now: creates
    // make their own meanwhile, and fail or not on their own.
    spdlog::warn("network namespace pool: {}; trying again in {} ms", ns.error().what(),
                 backoff.count());
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

}  // namespace tarmac::runtime
