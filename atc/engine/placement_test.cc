// Placement strategies over real worker and container rows.
#include "atc/engine/placement.h"

#include <gtest/gtest.h>

#include "tests/test_database.h"

namespace tarmac::atc::engine {
namespace {

class PlacementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::fresh_pool();
    ASSERT_TRUE(pool_);
    db::WorkerStore workers(*pool_);
    for (const char* name : {"w1", "w2", "w3"}) {
      registry::v1::WorkerInfo w;
      w.set_name(name);
      w.set_address("127.0.0.1:1");
      w.set_platform("linux");
      w.set_ttl_ms(60000);
      ASSERT_TRUE(workers.save(w).ok());
    }
    auto b = pool_->exec(
        "INSERT INTO builds (name, team_id, status) SELECT '1', id, 'started' FROM teams"
        " RETURNING id");
    ASSERT_TRUE(b.ok());
    build_ = (*b)[0].i64("id");
    tasks("w1", 2);
    tasks("w2", 1);
  }
  void tasks(const std::string& worker, int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(pool_
                      ->query("INSERT INTO containers (handle, worker_name, state, build_id, meta)"
                              " VALUES ($1, $2, 'created', $3, '{\"type\": \"task\"}')",
                              worker + "-" + std::to_string(i), worker, build_)
                      .ok());
  }
  std::vector<std::string> narrowed(const PlacementOptions& o,
                                    const std::map<std::string, int>& inputs = {}) {
    auto all = db::WorkerStore(*pool_).available("main", "linux", {});
    EXPECT_TRUE(all.ok());
    auto r = narrow(*pool_, *all, o, inputs);
    EXPECT_TRUE(r.ok()) << r.error().what();
    std::vector<std::string> names;
    for (const auto& w : *r) names.push_back(w.info.name());
    return names;
  }
  std::unique_ptr<db::Pool> pool_;
  int64_t build_ = 0;
};

using Names = std::vector<std::string>;

TEST_F(PlacementTest, FewestBuildContainers) {
  EXPECT_EQ(narrowed({{"fewest-build-containers"}, 0}), Names{"w3"});
}

TEST_F(PlacementTest, VolumeLocalityBeforeFewestContainers) {
  // The inputs are mostly on the busiest worker: locality wins, as configured first.
  EXPECT_EQ(narrowed({{"volume-locality", "fewest-build-containers"}, 0}, {{"w1", 2}, {"w2", 1}}),
            Names{"w1"});
  // No inputs anywhere: locality keeps all, the next strategy decides.
  EXPECT_EQ(narrowed({{"volume-locality", "fewest-build-containers"}, 0}), Names{"w3"});
}

TEST_F(PlacementTest, LimitActiveTasksLeavesNoneWhenAllAreFull) {
  EXPECT_EQ(narrowed({{"limit-active-tasks"}, 2}), Names{"w3"});
  tasks("w3", 1);
  EXPECT_EQ(narrowed({{"limit-active-tasks"}, 1}), Names{});
  // A finished build's containers are not active tasks.
  ASSERT_TRUE(pool_->query("UPDATE builds SET status = 'succeeded' WHERE id = $1", build_).ok());
  EXPECT_EQ(narrowed({{"limit-active-tasks"}, 1}).size(), 1u);
}

TEST_F(PlacementTest, ValidateNamesWhatIsWrong) {
  auto bad = validate({{"volume-locality", "nearest"}, 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"nearest\""), std::string::npos);
  auto limit = validate({{"fewest-build-containers"}, 3});
  ASSERT_FALSE(limit.ok());
  EXPECT_NE(limit.error().message().find("limit-active-tasks"), std::string::npos);
  EXPECT_TRUE(validate({{"limit-active-tasks"}, 3}).ok());
}

}  // namespace
}  // namespace tarmac::atc::engine
