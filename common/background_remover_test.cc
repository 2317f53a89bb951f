#include "common/background_remover.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace tarmac {
namespace {

TEST(BackgroundRemoverTest, RemovesEveryPathAddedAndDrainWaitsForThem) {
  std::mutex mu;
  std::multiset<std::string> removed;
  BackgroundRemover remover([&](const std::string& p) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard lock(mu);
    removed.insert(p);
  });
  for (int i = 0; i < 20; ++i) remover.add("p" + std::to_string(i));
  remover.add("p0");  // the same path twice is removed twice
  remover.drain();
  std::lock_guard lock(mu);
  EXPECT_EQ(removed.size(), 21u);
  EXPECT_EQ(removed.count("p0"), 2u);
  EXPECT_EQ(removed.count("p19"), 1u);
}

TEST(BackgroundRemoverTest, WhatIsQueuedAtTheEndIsRemovedBeforeItGoes) {
  std::atomic<int> removed{0};
  {
    BackgroundRemover remover([&](const std::string&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ++removed;
    });
    for (int i = 0; i < 10; ++i) remover.add("p" + std::to_string(i));
  }
  EXPECT_EQ(removed.load(), 10);
}

}  // namespace
}  // namespace tarmac
