#include "atc/db/pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "common/fs.h"
#include "tests/test_database.h"

namespace tarmac::atc::db {
namespace {

// More threads than connections: every statement runs, none fails for want of a connection.
TEST(PoolTest, SharedByMoreThreadsThanConnections) {
  auto pool = testing::fresh_pool(false, 3);
  ASSERT_TRUE(pool);
  ASSERT_TRUE(pool->exec("CREATE TABLE t (v int)").ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i)
        if (!pool->query("INSERT INTO t VALUES ($1)", t * 100 + i).ok()) ++failures;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  auto n = pool->exec("SELECT count(*) AS n FROM t");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].i64("n"), 200);
}

// A failing transaction leaves nothing behind; a good one commits everything.
TEST(PoolTest, TransactionsRollBackOnError) {
  auto pool = testing::fresh_pool(false);
  ASSERT_TRUE(pool);
  ASSERT_TRUE(pool->exec("CREATE TABLE t (v int PRIMARY KEY)").ok());
  Status s = pool->transaction([](Connection& c) -> Status {
    TARMAC_TRY(c.query("INSERT INTO t VALUES ($1)", 1));
    TARMAC_TRY(c.query("INSERT INTO t VALUES ($1)", 1));  // duplicate
    return ok_status();
  });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errnum(), EEXIST);
  auto n = pool->exec("SELECT count(*) AS n FROM t");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ((*n)[0].i64("n"), 0);

  ASSERT_TRUE(pool->transaction([](Connection& c) -> Status {
                    TARMAC_TRY(c.query("INSERT INTO t VALUES ($1)", 1));
                    TARMAC_TRY(c.query("INSERT INTO t VALUES ($1)", 2));
                    return ok_status();
                  })
                  .ok());
  n = pool->exec("SELECT count(*) AS n FROM t");
  EXPECT_EQ((*n)[0].i64("n"), 2);
}

// After PostgreSQL restarts, the pool reconnects by itself; a statement cut off by the
// shutdown fails with EAGAIN (not acknowledged), and every acknowledged write is still there.
TEST(PoolTest, ReconnectsAfterPostgresRestart) {
  auto server = testing::PostgresServer::start();
  ASSERT_TRUE(server);
  PoolOptions o;
  o.conninfo = server->fresh_database();
  o.size = 2;
  auto pool = Pool::create(o);
  ASSERT_TRUE(pool.ok()) << pool.error().what();
  ASSERT_TRUE((*pool)->exec("CREATE TABLE t (v int)").ok());
  ASSERT_TRUE((*pool)->query("INSERT INTO t VALUES ($1)", 1).ok());

  std::thread slow([&] {
    auto r = (*pool)->exec("SELECT pg_sleep(30)");
    EXPECT_FALSE(r.ok());
    if (!r.ok()) {
      EXPECT_EQ(r.error().errnum(), EAGAIN) << r.error().what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(server->pg().restart().ok());
  slow.join();

  auto r = (*pool)->query("INSERT INTO t VALUES ($1)", 2);
  ASSERT_TRUE(r.ok()) << r.error().what();
  auto n = (*pool)->exec("SELECT count(*) AS n FROM t");
  ASSERT_TRUE(n.ok()) << n.error().what();
  EXPECT_EQ((*n)[0].i64("n"), 2);
}

// A pool whose server is down answers EAGAIN at once, and works again when it is back.
TEST(PoolTest, ServerDownIsRetryable) {
  auto server = testing::PostgresServer::start();
  ASSERT_TRUE(server);
  PoolOptions o;
  o.conninfo = server->fresh_database();
  auto pool = Pool::create(o);
  ASSERT_TRUE(pool.ok());
  ASSERT_TRUE(server->pg().stop().ok());
  auto r = (*pool)->exec("SELECT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum(), EAGAIN) << r.error().what();
  ASSERT_TRUE(server->pg().restart().ok());
  EXPECT_TRUE((*pool)->exec("SELECT 1").ok());
}

}  // namespace
}  // namespace tarmac::atc::db
