// Build events: compaction keeps every id and payload byte for byte, readers see the same
// stream before and after (also when resuming mid-build), retention removes old logs, and a
// corrupt chunk is an error naming the build, not a crash.
#include "atc/db/builds.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "atc/db/event_chunks.h"
#include "tests/test_database.h"

namespace tarmac::atc::db {
namespace {

class BuildEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::fresh_pool();
    ASSERT_TRUE(pool_);
  }
  int64_t build_with_log(int lines) {
    BuildStore builds(*pool_);
    auto b = builds.create_one_off("main", "{}", "admin");
    EXPECT_TRUE(b.ok() && builds.start(b->id).ok());
    for (int i = 0; i < lines; ++i) {
      nlohmann::json data = {{"time", 1700000000 + i},
                             {"origin", {{"id", "task-1"}, {"source", "stdout"}}},
                             {"payload", "line " + std::to_string(i) + " \"quoted\" \\ é\n"}};
      EXPECT_TRUE(builds.append_event(b->id, "log", "5.1", data.dump()).ok());
    }
    return b->id;
  }
  std::unique_ptr<Pool> pool_;
};

TEST_F(BuildEventsTest, CompactionKeepsEveryEventAndResumePoint) {
  BuildStore builds(*pool_);
  int64_t id = build_with_log(3000);
  auto before = builds.events(id, -1, 100000);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->size(), 3000u);
  // A running build is left as it is.
  ASSERT_TRUE(builds.compact_events(id).ok());
  EXPECT_EQ((*pool_->exec("SELECT count(*) AS n FROM build_event_chunks"))[0].i64("n"), 0);

  ASSERT_TRUE(builds.finish(id, "succeeded", 0).ok());
  ASSERT_TRUE(builds.compact_events(id).ok());
  EXPECT_EQ(
      (*pool_->query("SELECT count(*) AS n FROM build_events WHERE build_id = $1", id))[0].i64("n"),
      0);
  auto after = builds.events(id, -1, 10);
  ASSERT_TRUE(after.ok()) << after.error().what();
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < before->size(); ++i) {
    EXPECT_EQ((*after)[i].event_id, (*before)[i].event_id);
    EXPECT_EQ((*after)[i].type, (*before)[i].type);
    EXPECT_EQ((*after)[i].version, (*before)[i].version);
    EXPECT_EQ(nlohmann::json::parse((*after)[i].payload),
              nlohmann::json::parse((*before)[i].payload));
  }
  auto resumed = builds.events(id, 2500, 10);
  ASSERT_TRUE(resumed.ok());
  ASSERT_EQ(resumed->size(), 499u);
  EXPECT_EQ(resumed->front().event_id, 2501);
  EXPECT_EQ(builds.uncompacted(10)->size(), 0u);

  // Stored far smaller than a row per line.
  auto sizes = pool_->query(
      "SELECT (SELECT sum(octet_length(data)) FROM build_event_chunks WHERE build_id = $1)"
      " AS packed",
      id);
  ASSERT_TRUE(sizes.ok());
  size_t raw = 0;
  for (const auto& e : *before) raw += e.payload.size();
  EXPECT_LT(static_cast<size_t>((*sizes)[0].i64("packed")) * 4, raw);
}

TEST_F(BuildEventsTest, RetentionByCountAndDays) {
  BuildStore builds(*pool_);
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(build_with_log(5));
    ASSERT_TRUE(builds.finish(ids.back(), "succeeded", 0).ok());
  }
  ASSERT_TRUE(builds.compact_events(ids[0]).ok());  // one packed, two as rows
  auto none = builds.reap_logs({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
  auto reaped = builds.reap_logs({0, 1});
  ASSERT_TRUE(reaped.ok()) << reaped.error().what();
  EXPECT_EQ(*reaped, 2);
  EXPECT_TRUE(builds.events(ids[0], -1, 100)->empty());
  EXPECT_TRUE(builds.events(ids[1], -1, 100)->empty());
  EXPECT_EQ(builds.events(ids[2], -1, 100)->size(), 5u);
  ASSERT_TRUE(
      pool_->query("UPDATE builds SET end_time = now() - interval '3 days' WHERE id = $1", ids[2])
          .ok());
  EXPECT_EQ(*builds.reap_logs({2, 0}), 1);
  EXPECT_TRUE(builds.events(ids[2], -1, 100)->empty());
}

TEST_F(BuildEventsTest, CorruptChunksAreErrors) {
  EXPECT_FALSE(unpack_events("").ok());
  EXPECT_FALSE(unpack_events("not zstd at all").ok());
  std::string good = pack_events({{1, "log", "5.1", "{\"payload\":\"x\"}"}});
  ASSERT_TRUE(unpack_events(good).ok());
  std::string cut = good.substr(0, good.size() / 2);
  EXPECT_FALSE(unpack_events(cut).ok());
  EXPECT_FALSE(from_bytea_hex("\\xzz").ok());
  EXPECT_FALSE(from_bytea_hex("plain").ok());

  BuildStore builds(*pool_);
  int64_t id = build_with_log(1);
  ASSERT_TRUE(builds.finish(id, "succeeded", 0).ok());
  ASSERT_TRUE(
      pool_->query("INSERT INTO build_event_chunks VALUES ($1, 5, 9, '\\x00ff'::bytea)", id).ok());
  auto events = builds.events(id, -1, 10);
  ASSERT_FALSE(events.ok());
  EXPECT_NE(events.error().message().find("build " + std::to_string(id)), std::string::npos)
      << events.error().message();
}

}  // namespace
}  // namespace tarmac::atc::db
