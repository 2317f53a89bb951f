#include "atc/db/workers.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/test_database.h"

namespace tarmac::atc::db {
namespace {

namespace v1 = registry::v1;

v1::WorkerInfo worker(const std::string& name, int64_t ttl_ms = 60000) {
  v1::WorkerInfo w;
  w.set_name(name);
  w.set_address("10.0.0.1:7777");
  w.set_platform("linux");
  w.add_tags("fast");
  w.add_tags("with,comma");
  auto* rt = w.add_resource_types();
  rt->set_type("git");
  rt->set_image("/var/resources/git/rootfs.tgz");
  rt->set_version("1.2");
  w.set_heartbeat_interval_ms(ttl_ms / 3);
  w.set_ttl_ms(ttl_ms);
  w.set_state(v1::RUNNING);
  return w;
}

// Registration saves what the worker says; a second registration updates the same row.
TEST(WorkerStoreTest, SaveAndFind) {
  auto pool = testing::fresh_pool();
  ASSERT_TRUE(pool);
  WorkerStore store(*pool);
  auto saved = store.save(worker("w1"));
  ASSERT_TRUE(saved.ok()) << saved.error().what();
  EXPECT_EQ(saved->info.state(), v1::RUNNING);
  EXPECT_EQ(saved->info.tags_size(), 2);
  EXPECT_EQ(saved->info.tags(1), "with,comma");
  ASSERT_EQ(saved->info.resource_types_size(), 1);
  EXPECT_EQ(saved->info.resource_types(0).type(), "git");

  auto again = worker("w1");
  again.set_address("10.0.0.2:7777");
  ASSERT_TRUE(store.save(again).ok());
  auto all = store.list();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].info.address(), "10.0.0.2:7777");
}

// A team worker needs its team; an unknown team is refused by name.
TEST(WorkerStoreTest, TeamMustExist) {
  auto pool = testing::fresh_pool();
  ASSERT_TRUE(pool);
  WorkerStore store(*pool);
  auto w = worker("w1");
  w.set_team("nope");
  auto r = store.save(w);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), ENOENT);
  EXPECT_NE(r.error().message().find("team \"nope\" not found"), std::string::npos);
  w.set_team("main");
  auto ok = store.save(w);
  ASSERT_TRUE(ok.ok()) << ok.error().what();
  EXPECT_EQ(ok->team, "main");
}

// A worker whose beats stop is stalled after its ttl; its next beat makes it running again.
TEST(WorkerStoreTest, StallAndRecover) {
  auto pool = testing::fresh_pool();
  ASSERT_TRUE(pool);
  WorkerStore store(*pool);
  ASSERT_TRUE(store.save(worker("w1", 1)).ok());
  ASSERT_TRUE(store.save(worker("w2", 600000)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto t = store.transition();
  ASSERT_TRUE(t.ok()) << t.error().what();
  EXPECT_EQ(t->stalled, std::vector<std::string>{"w1"});
  EXPECT_EQ((*store.find("w1"))->info.state(), v1::STALLED);
  auto beat = store.beat(worker("w1", 600000));
  ASSERT_TRUE(beat.ok());
  EXPECT_EQ(beat->info.state(), v1::RUNNING);
  auto unknown = store.beat(worker("ghost"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().errnum(), ENOENT);
}

// Landing and retiring wait for unfinished builds' containers; prune refuses running workers.
TEST(WorkerStoreTest, LandRetirePrune) {
  auto pool = testing::fresh_pool();
  ASSERT_TRUE(pool);
  WorkerStore store(*pool);
  ASSERT_TRUE(store.save(worker("w1")).ok());
  ASSERT_TRUE(store.save(worker("w2")).ok());
  auto b = pool->exec(
      "INSERT INTO builds (name, team_id, status) SELECT 'one-off', id, 'started' FROM teams"
      " RETURNING id");
  ASSERT_TRUE(b.ok());
  std::string build = (*b)[0].str("id");
  for (auto* w : {"w1", "w2"})
    ASSERT_TRUE(pool->query("INSERT INTO containers (handle, worker_name, state, build_id)"
                            " VALUES ($1, $2, 'created', $3::bigint)",
                            std::string("c-") + w, w, build)
                    .ok());
  ASSERT_TRUE(store.land("w1").ok());
  ASSERT_TRUE(store.retire("w2").ok());
  // A beat keeps the operator's state.
  EXPECT_EQ(store.beat(worker("w1"))->info.state(), v1::LANDING);

  auto busy = store.prune("w1");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().errnum(), EBUSY);

  auto t = store.transition();
  ASSERT_TRUE(t.ok()) << t.error().what();
  EXPECT_TRUE(t->landed.empty());
  EXPECT_TRUE(t->retired.empty());

  ASSERT_TRUE(
      pool->query("UPDATE builds SET status = 'succeeded' WHERE id = $1::bigint", build).ok());
  t = store.transition();
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->landed, std::vector<std::string>{"w1"});
  EXPECT_EQ(t->retired, std::vector<std::string>{"w2"});
  EXPECT_FALSE(*store.find("w2"));
  ASSERT_TRUE(store.prune("w1").ok());
  EXPECT_FALSE(*store.find("w1"));
  EXPECT_EQ(store.prune("w1").error().errnum(), ENOENT);
}

// Placement candidates: running only; platform; tags all-of, untagged steps on untagged
// workers; a team's own workers before the workers of every team.
TEST(WorkerStoreTest, AvailableForPlacement) {
  auto pool = testing::fresh_pool();
  ASSERT_TRUE(pool);
  ASSERT_TRUE(pool->exec("INSERT INTO teams (name) VALUES ('a')").ok());
  WorkerStore store(*pool);
  auto add = [&](const std::string& name, std::vector<std::string> tags, const std::string& team,
                 const std::string& platform = "linux") {
    auto w = worker(name);
    w.clear_tags();
    for (auto& t : tags) w.add_tags(t);
    w.set_team(team);
    w.set_platform(platform);
    ASSERT_TRUE(store.save(w).ok());
  };
  add("plain", {}, "");
  add("stalled", {}, "");
  add("landing", {}, "");
  add("gpu", {"gpu"}, "");
  add("gpu-big", {"gpu", "big"}, "");
  add("win", {}, "", "windows");
  ASSERT_TRUE(pool->exec("UPDATE workers SET state = 'stalled' WHERE name = 'stalled'").ok());
  ASSERT_TRUE(store.land("landing").ok());
  auto names = [&](const std::string& team, const std::string& platform,
                   std::vector<std::string> tags) {
    std::vector<std::string> out;
    auto r = store.available(team, platform, tags);
    EXPECT_TRUE(r.ok()) << r.error().what();
    if (r)
      for (auto& w : *r) out.push_back(w.info.name());
    return out;
  };
  EXPECT_EQ(names("main", "linux", {}), std::vector<std::string>{"plain"});
  EXPECT_EQ(names("main", "linux", {"gpu"}), (std::vector<std::string>{"gpu", "gpu-big"}));
  EXPECT_EQ(names("main", "linux", {"gpu", "big"}), std::vector<std::string>{"gpu-big"});
  EXPECT_EQ(names("main", "windows", {}), std::vector<std::string>{"win"});
  EXPECT_TRUE(names("main", "darwin", {}).empty());
  add("a-own", {}, "a");
  EXPECT_EQ(names("a", "linux", {}), std::vector<std::string>{"a-own"});
  EXPECT_EQ(names("main", "linux", {}), std::vector<std::string>{"plain"});
}

}  // namespace
}  // namespace tarmac::atc::db
