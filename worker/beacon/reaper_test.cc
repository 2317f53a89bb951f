// The reaper alone, over a fake holdings: what it destroys, how many at once, and that
// handing it work never waits for the work.
#include "worker/beacon/reaper.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace tarmac::beacon {
namespace {

class SlowHoldings final : public Holdings {
 public:
  std::vector<std::string> container_handles() const override { return {}; }
  std::vector<std::string> volume_handles() const override { return {}; }
  int active_tasks() const override { return 0; }

  Status destroy_container(const std::string& handle) override {
    {
      std::unique_lock lock(mu_);
      gate_cv_.wait(lock, [this] { return open_; });
    }
    int now = ++running_;
    int seen = max_running_.load();
    while (now > seen && !max_running_.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    --running_;
    std::lock_guard lock(mu_);
    order_.push_back("c:" + handle);
    if (handle == "broken") return Error("container broken: busy", EBUSY);
    if (handle == "gone") return Error("container gone: not found", ENOENT);
    return {};
  }
  std::vector<std::pair<std::string, std::string>> destroy_volumes(
      const std::vector<std::string>& handles) override {
    std::lock_guard lock(mu_);
    std::vector<std::pair<std::string, std::string>> failed;
    for (const auto& h : handles) {
      order_.push_back("v:" + h);
      if (h == "stuck") failed.emplace_back(h, "has children");
    }
    return failed;
  }

  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    gate_cv_.notify_all();
  }

  std::atomic<int> running_{0}, max_running_{0};
  std::mutex mu_;
  std::condition_variable gate_cv_;
  bool open_ = false;
  std::vector<std::string> order_;
};

// Containers go `parallelism` at a time, before the batch's volumes; enqueue returns at once;
// the report says what is gone (a missing container counts) and what failed.
TEST(ReaperTest, BoundedParallelismContainersFirstAndAReport) {
  SlowHoldings h;
  Reaper reaper(h, 3);
  std::vector<std::string> containers;
  for (int i = 0; i < 12; ++i) containers.push_back("c" + std::to_string(i));
  containers.push_back("broken");
  containers.push_back("gone");
  // Every destroy is held at a gate: had enqueue waited for them (as a heartbeat must not),
  // this test would never get past it.
  reaper.enqueue(containers, {"v1", "stuck"});
  {
    std::lock_guard lock(h.mu_);
    EXPECT_TRUE(h.order_.empty());
  }
  h.open();
  reaper.wait_idle();
  EXPECT_EQ(h.max_running_.load(), 3);
  ASSERT_EQ(h.order_.size(), 16u);
  EXPECT_EQ(h.order_[14], "v:v1");
  EXPECT_EQ(h.order_[15], "v:stuck");
  auto report = reaper.take_report();
  std::set<std::string> destroyed(report.destroyed_containers.begin(),
                                  report.destroyed_containers.end());
  EXPECT_EQ(destroyed.size(), 13u);
  EXPECT_TRUE(destroyed.count("gone"));
  EXPECT_FALSE(destroyed.count("broken"));
  EXPECT_EQ(report.destroyed_volumes, std::vector<std::string>{"v1"});
  std::set<std::string> failed(report.failed.begin(), report.failed.end());
  EXPECT_EQ(failed, (std::set<std::string>{"broken", "stuck"}));
  EXPECT_TRUE(reaper.take_report().destroyed_containers.empty());
}

// A handle asked for again while queued or in progress is destroyed once.
TEST(ReaperTest, QueuedHandlesAreNotQueuedTwice) {
  SlowHoldings h;
  Reaper reaper(h, 1);
  reaper.enqueue({"a", "b"}, {});
  reaper.enqueue({"a", "b", "c"}, {});  // a and b are still held at the gate
  h.open();
  reaper.wait_idle();
  std::vector<std::string> order = h.order_;
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, (std::vector<std::string>{"c:a", "c:b", "c:c"}));
  // Once done, asking again destroys again (the registry decides).
  reaper.enqueue({"a"}, {});
  reaper.wait_idle();
  EXPECT_EQ(h.order_.size(), 4u);
}

}  // namespace
}  // namespace tarmac::beacon
