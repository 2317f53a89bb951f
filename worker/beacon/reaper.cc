#include "worker/beacon/reaper.h"

#include <spdlog/spdlog.h>

#include <atomic>

namespace tarmac::beacon {

Reaper::Reaper(Holdings& holdings, int parallelism)
    : holdings_(holdings), parallelism_(std::max(1, parallelism)), thread_([this] { run(); }) {}

Reaper::~Reaper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Reaper::enqueue(const std::vector<std::string>& containers,
                     const std::vector<std::string>& volumes) {
  std::pair<std::vector<std::string>, std::vector<std::string>> batch;
  {
    std::lock_guard lock(mu_);
    for (const std::string& h : containers)
      if (pending_.insert("c:" + h).second) batch.first.push_back(h);
    for (const std::string& h : volumes)
      if (pending_.insert("v:" + h).second) batch.second.push_back(h);
    if (batch.first.empty() && batch.second.empty()) return;
    batches_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

Reaper::Report Reaper::take_report() {
  std::lock_guard lock(mu_);
  return std::exchange(report_, Report{});
}

void Reaper::wait_idle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return batches_.empty() && !busy_; });
}

void Reaper::run() {
  for (;;) {
    std::pair<std::vector<std::string>, std::vector<std::string>> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !batches_.empty(); });
      if (stopping_) return;
      batch = std::move(batches_.front());
      batches_.pop_front();
      busy_ = true;
    }
    // Containers first: a volume may be mounted in one of them.
    destroy_containers(batch.first);
    auto failed = batch.second.empty() ? decltype(holdings_.destroy_volumes({})){}
                                       : holdings_.destroy_volumes(batch.second);
    std::lock_guard lock(mu_);
    std::set<std::string> failed_handles;
    for (const auto& [h, why] : failed) {
      spdlog::warn("gc: volume {}: {}", h, why);
      failed_handles.insert(h);
      report_.failed.push_back(h);
    }
    for (const std::string& h : batch.second) {
      if (!failed_handles.count(h)) report_.destroyed_volumes.push_back(h);
      pending_.erase("v:" + h);
    }
    busy_ = false;
    cv_.notify_all();
  }
}

void Reaper::destroy_containers(std::vector<std::string> handles) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < handles.size();) {
      const std::string& h = handles[i];
      auto s = holdings_.destroy_container(h);
      std::lock_guard lock(mu_);
      // Already gone counts as destroyed: that is what was asked.
      if (s.ok() || s.error().errnum() == ENOENT) {
        report_.destroyed_containers.push_back(h);
      } else {
        spdlog::warn("gc: container {}: {}", h, s.error().what());
        report_.failed.push_back(h);
      }
      pending_.erase("c:" + h);
    }
  };
  std::vector<std::thread> threads;
  int n = std::min<int>(parallelism_, static_cast<int>(handles.size()));
  for (int i = 1; i < n; ++i) threads.emplace_back(work);
  if (n > 0) work();
  for (auto& t : threads) t.join();
}

}  // namespace tarmac::beacon
