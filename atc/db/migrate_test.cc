#include "atc/db/migrate.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <thread>

#include "tests/test_database.h"

namespace tarmac::atc::db {
namespace {

bool table_exists(Pool& pool, const std::string& name) {
  auto r = pool.query("SELECT to_regclass($1) IS NOT NULL AS e", name);
  return r.ok() && (*r)[0].boolean("e");
}

// An empty database gets every migration, in order, recorded; a second run applies none.
TEST(MigrateTest, AppliesEveryMigrationOnce) {
  auto pool = testing::fresh_pool(false);
  ASSERT_TRUE(pool);
  auto first = migrate(*pool);
  ASSERT_TRUE(first.ok()) << first.error().what();
  EXPECT_EQ(first->from, 0);
  EXPECT_EQ(first->to, known_migrations().back().version);
  EXPECT_EQ(first->applied.size(), known_migrations().size());
  EXPECT_TRUE(table_exists(*pool, "workers"));
  auto main_team = pool->exec("SELECT count(*) AS n FROM teams WHERE name = 'main'");
  ASSERT_TRUE(main_team.ok());
  EXPECT_EQ((*main_team)[0].i64("n"), 1);

  auto second = migrate(*pool);
  ASSERT_TRUE(second.ok()) << second.error().what();
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(*schema_version(*pool), known_migrations().back().version);
}

// A schema newer than the binary is refused with a message saying so.
TEST(MigrateTest, RefusesNewerSchema) {
  auto pool = testing::fresh_pool(true);
  ASSERT_TRUE(pool);
  ASSERT_TRUE(pool->query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 9999,
                          "9999_future.up.sql")
                  .ok());
  auto r = migrate(*pool);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), ENOTSUP);
  EXPECT_NE(r.error().message().find("newer than this tarmac knows"), std::string::npos)
      << r.error().message();
}

// A failing migration is rolled back whole, named in the error, and not recorded; the ones
// before it stay applied.
TEST(MigrateTest, FailingMigrationRollsBack) {
  auto pool = testing::fresh_pool(false);
  ASSERT_TRUE(pool);
  std::vector<Migration> list = {
      {1, "0001_a.up.sql", "CREATE TABLE a (v int);"},
      {2, "0002_b.up.sql", "CREATE TABLE b (v int); CREATE TABLE broken (v nosuchtype);"},
  };
  auto r = migrate(*pool, list);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("apply 0002_b.up.sql"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(table_exists(*pool, "a"));
  EXPECT_FALSE(table_exists(*pool, "b"));
  EXPECT_EQ(*schema_version(*pool), 1);
}

// Migrations out of order are a build mistake, caught before anything runs.
TEST(MigrateTest, RejectsOutOfOrderList) {
  auto pool = testing::fresh_pool(false);
  ASSERT_TRUE(pool);
  std::vector<Migration> list = {{2, "0002_b.up.sql", "SELECT 1"},
                                 {1, "0001_a.up.sql", "SELECT 1"}};
  auto r = migrate(*pool, list);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_EQ(*schema_version(*pool), 0);
}

// Web nodes starting together on one database: each migration is applied exactly once.
TEST(MigrateTest, ConcurrentNodesTakeTurns) {
  auto pool = testing::fresh_pool(false, 8);
  ASSERT_TRUE(pool);
  std::vector<MigrationReport> reports(4);
  std::vector<std::thread> nodes;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i)
    nodes.emplace_back([&, i] {
      auto r = migrate(*pool);
      if (!r) {
        ++failures;
        return;
      }
      reports[i] = *r;
    });
  for (auto& t : nodes) t.join();
  EXPECT_EQ(failures, 0);
  size_t applied = 0;
  for (auto& r : reports) applied += r.applied.size();
  EXPECT_EQ(applied, known_migrations().size());
}

}  // namespace
}  // namespace tarmac::atc::db
