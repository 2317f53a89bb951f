#include "worker/runtime/netns_pool.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

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

// Moves the calling thread into a new network namespace and returns it. The thread stays
// there: it holds no socket, and the next call moves it on.
Result<UniqueFd> make_netns() {
  if (::unshare(CLONE_NEWNET) != 0) return sys_error("unshare network namespace");
  UniqueFd ns(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!ns) return sys_error("open /proc/thread-self/ns/net");
  TARMAC_RETURN_IF_ERROR(bring_up_loopback(), "new network namespace");
  return ns;
}

}  // namespace

NetnsPool& NetnsPool::instance() {
  // Never destroyed: its thread runs until the process ends.
  static NetnsPool* pool = new NetnsPool();
  return *pool;
}

UniqueFd NetnsPool::take() {
  // A forked child has our memory but not our thread, and maybe a lock held by it forever:
  // it takes nothing from its parent's pool (it may start its own before one exists).
  const pid_t self = ::getpid();
  if (pid_t owner = owner_.load(std::memory_order_acquire); owner != -1 && owner != self) return {};
  std::unique_lock lock(mu_);
  if (owner_.load(std::memory_order_relaxed) == -1) {
    owner_.store(self, std::memory_order_release);
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
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wanted_.wait(lock, [this] { return ready_.size() < kReady; });
    }
    auto ns = make_netns();
    std::lock_guard lock(mu_);
    if (!ns) {
      spdlog::warn("network namespace pool: {}; containers make their own", ns.error().what());
      broken_ = true;
      return;
    }
    ready_.push_back(std::move(*ns));
  }
}

}  // namespace tarmac::runtime
