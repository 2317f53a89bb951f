#include "atc/db/gc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "atc/db/components.h"
#include "atc/db/workers.h"
#include "tests/test_database.h"

namespace tarmac::atc::db {
namespace {

using Strings = std::vector<std::string>;

class GcStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = testing::fresh_pool();
    ASSERT_TRUE(pool_);
    registry::v1::WorkerInfo w;
    w.set_name("w1");
    w.set_address("127.0.0.1:1");
    w.set_ttl_ms(60000);
    ASSERT_TRUE(WorkerStore(*pool_).save(w).ok());
    auto b = pool_->exec(
        "INSERT INTO builds (name, team_id, status) SELECT '1', id, 'started' FROM teams"
        " RETURNING id");
    ASSERT_TRUE(b.ok());
    build_ = (*b)[0].str("id");
  }
  void container(const std::string& handle, const std::string& state = "created") {
    ASSERT_TRUE(pool_
                    ->query("INSERT INTO containers (handle, worker_name, state, build_id)"
                            " VALUES ($1, 'w1', $2, $3::bigint)",
                            handle, state, build_)
                    .ok());
  }
  void volume(const std::string& handle, const std::string& container,
              const std::string& parent = "") {
    auto r = pool_->query(
        "INSERT INTO volumes (handle, worker_name, state, type, container_id, parent_id)"
        " VALUES ($1, 'w1', 'created', 'container',"
        " (SELECT id FROM containers WHERE handle = $2),"
        " (SELECT id FROM volumes WHERE handle = $3))",
        handle, container, parent);
    ASSERT_TRUE(r.ok()) << r.error().what();
  }
  Strings handles(const char* table) {
    auto r = pool_->exec(std::string("SELECT handle FROM ") + table + " ORDER BY handle");
    Strings out;
    for (int i = 0; r && i < r->size(); ++i) out.push_back((*r)[i].str("handle"));
    return out;
  }
  std::string state(const char* table, const std::string& handle) {
    auto r = pool_->query(std::string("SELECT state FROM ") + table + " WHERE handle = $1", handle);
    return r && !r->empty() ? (*r)[0].str("state") : "gone";
  }

  std::unique_ptr<Pool> pool_;
  std::string build_;
};

// Handles the database does not know are destroyed; known ones are left alone.
TEST_F(GcStoreTest, UnknownHandlesAreDestroyed) {
  container("c1");
  volume("v1", "c1");
  GcStore gc(*pool_, std::chrono::minutes(5));
  auto d = gc.reconcile({"w1", {"c1", "stray-c"}, {"v1", "stray-v"}, {}, {}, {}});
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ(d->containers, Strings{"stray-c"});
  EXPECT_EQ(d->volumes, Strings{"stray-v"});
}

// A finished build's container becomes an orphan; its volumes follow once the container is
// gone, leaves (the COW child) before their parent; rows vanish as the worker stops holding
// them.
TEST_F(GcStoreTest, OrphansGoLeavesFirst) {
  container("c1");
  volume("parent", "c1");
  volume("child", "c1", "parent");
  GcStore gc(*pool_, std::chrono::minutes(5));
  auto n = gc.mark_orphans();
  ASSERT_TRUE(n.ok()) << n.error().what();
  EXPECT_EQ(n->containers, 0);  // the build is running

  ASSERT_TRUE(pool_
                  ->query("UPDATE builds SET status = 'failed', end_time = now() WHERE id ="
                          " $1::bigint",
                          build_)
                  .ok());
  n = gc.mark_orphans();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->containers, 1);
  EXPECT_EQ(n->volumes, 0);  // still in a container
  auto d = gc.reconcile({"w1", {"c1"}, {"parent", "child"}, {}, {}, {}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->containers, Strings{"c1"});
  // The worker destroyed it and says so: the row goes, the volumes lose their owner.
  d = gc.reconcile({"w1", {}, {"parent", "child"}, {"c1"}, {}, {}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(handles("containers"), Strings{});
  n = gc.mark_orphans();
  EXPECT_EQ(n->volumes, 1);
  EXPECT_EQ(state("volumes", "child"), "destroying");
  EXPECT_EQ(state("volumes", "parent"), "created");
  d = gc.reconcile({"w1", {}, {"parent", "child"}, {}, {}, {}});
  EXPECT_EQ(d->volumes, Strings{"child"});
  // Gone from the worker's list without a report: the destroying row goes all the same.
  d = gc.reconcile({"w1", {}, {"parent"}, {}, {}, {}});
  EXPECT_EQ(handles("volumes"), Strings{"parent"});
  n = gc.mark_orphans();
  EXPECT_EQ(n->volumes, 1);
  d = gc.reconcile({"w1", {}, {"parent"}, {}, {}, {}});
  EXPECT_EQ(d->volumes, Strings{"parent"});
  d = gc.reconcile({"w1", {}, {}, {}, {"parent"}, {}});
  EXPECT_EQ(handles("volumes"), Strings{});
}

// A created container the worker stops listing is dropped only after the grace period.
TEST_F(GcStoreTest, MissingRowsDroppedAfterGrace) {
  container("c1");
  container("c2");
  GcStore patient(*pool_, std::chrono::minutes(5));
  ASSERT_TRUE(patient.reconcile({"w1", {"c2"}, {}, {}, {}, {}}).ok());
  EXPECT_EQ(handles("containers"), (Strings{"c1", "c2"}));
  GcStore hasty(*pool_, std::chrono::milliseconds(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(hasty.reconcile({"w1", {"c2"}, {}, {}, {}, {}}).ok());
  EXPECT_EQ(handles("containers"), Strings{"c2"});
}

// Two web nodes running the same periodic job on one database: one pass per interval.
TEST(ComponentsTest, OnePassPerIntervalAcrossNodes) {
  auto pool_a = testing::fresh_pool(true, 4);
  ASSERT_TRUE(pool_a);
  PoolOptions o;
  o.conninfo = pool_a->conninfo();
  auto pool_b = Pool::create(o);
  ASSERT_TRUE(pool_b.ok());
  std::atomic<int> passes{0}, inside{0}, overlapped{0};
  auto pass = [&]() -> Status {
    if (inside.fetch_add(1) > 0) ++overlapped;
    ++passes;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --inside;
    return ok_status();
  };
  std::vector<std::thread> nodes;
  for (Pool* p : {pool_a.get(), pool_b->get()})
    for (int t = 0; t < 2; ++t)
      nodes.emplace_back([&, p] {
        for (int i = 0; i < 20; ++i)
          ASSERT_TRUE(run_if_due(*p, "gc", std::chrono::hours(1), pass).ok());
      });
  for (auto& t : nodes) t.join();
  EXPECT_EQ(passes, 1);
  EXPECT_EQ(overlapped, 0);
  // Due again once the interval has passed.
  auto again = run_if_due(*pool_a, "gc", std::chrono::milliseconds(0), pass);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again);
}

}  // namespace
}  // namespace tarmac::atc::db
