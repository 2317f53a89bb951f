#include "common/background_remover.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "common/fs.h"

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

// take moves a path aside under a unique name and queues it; sweep queues what a directory
// holds; a path that is not there is ENOENT, and nothing is queued for it.
TEST(BackgroundRemoverTest, TakeMovesAsideAndSweepQueuesWhatIsLeft) {
  auto dir = fs::make_temp_dir("remover-test");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(fs::make_dirs(*dir + "/live/a/inner").ok());
  ASSERT_TRUE(fs::make_dirs(*dir + "/trash/left-by-a-crash").ok());
  std::mutex mu;
  std::vector<std::string> removed;
  {
    BackgroundRemover remover([&](const std::string& p) {
      std::lock_guard lock(mu);
      removed.push_back(p);
    });
    ASSERT_TRUE(remover.take(*dir + "/live/a", *dir + "/trash", "a").ok());
    EXPECT_FALSE(fs::exists(*dir + "/live/a"));
    auto missing = remover.take(*dir + "/live/a", *dir + "/trash", "a");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().errnum(), ENOENT);
    remover.drain();
    remover.sweep(*dir + "/trash");
    remover.drain();
  }
  ASSERT_EQ(removed.size(), 3u);  // the taken one, then both in trash/ again by the sweep
  EXPECT_EQ(removed[0].rfind(*dir + "/trash/a.", 0), 0u) << removed[0];
  EXPECT_TRUE(fs::exists(removed[0] + "/inner"));
  std::set<std::string> swept(removed.begin() + 1, removed.end());
  EXPECT_EQ(swept.count(*dir + "/trash/left-by-a-crash"), 1u);
  EXPECT_EQ(swept.count(removed[0]), 1u);
  ASSERT_TRUE(fs::remove_all(*dir).ok());
}

}  // namespace
}  // namespace tarmac
