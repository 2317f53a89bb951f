#include "common/reaper.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace tarmac {
namespace {

TEST(ReaperTest, RemovesEveryPathAddedAndDrainWaitsForThem) {
  std::mutex mu;
  std::multiset<std::string> removed;
  Reaper reaper([&](const std::string& p) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard lock(mu);
    removed.insert(p);
  });
  for (int i = 0; i < 20; ++i) reaper.add("p" + std::to_string(i));
  reaper.add("p0");  // the same path twice is removed twice
  reaper.drain();
  std::lock_guard lock(mu);
  EXPECT_EQ(removed.size(), 21u);
  EXPECT_EQ(removed.count("p0"), 2u);
  EXPECT_EQ(removed.count("p19"), 1u);
}

TEST(ReaperTest, WhatIsQueuedAtTheEndIsRemovedBeforeItGoes) {
  std::atomic<int> removed{0};
  {
    Reaper reaper([&](const std::string&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ++removed;
    });
    for (int i = 0; i < 10; ++i) reaper.add("p" + std::to_string(i));
  }
  EXPECT_EQ(removed.load(), 10);
}

}  // namespace
}  // namespace tarmac
