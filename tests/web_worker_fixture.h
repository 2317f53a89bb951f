#pragma once

// A real `tarmac web` on a fresh database of the test PostgreSQL and a real `tarmac worker`
// registered with it (as "w1", beating every 0.2 s), with the helpers the web node's
// worker-facing tests share.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include "atc/db/builds.h"
#include "common/tls/keys.h"
#include "tests/web_fixture.h"
#include "tests/worker_fixture.h"

namespace tarmac::testing {

class WebWorkerFixture : public WorkerFixture {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (the worker makes containers)";
    prepare();
    db_ = shared_postgres().fresh_database_name();
    web_extra_.insert(web_extra_.end(), {"--gc-missing-grace-period", "0"});
    web_ = std::make_unique<WebProcess>(shared_postgres(), db_, web_extra_);
    ASSERT_EQ(web_->start(), "");
    if (!https_) admin_ = web_->login("admin", "secret");
    auto pool = atc::db::Pool::create({shared_postgres().pg().conninfo(db_), 4});
    ASSERT_TRUE(pool.ok()) << pool.error().what();
    pool_ = std::move(*pool);
    // The image volume the fixture imports is known to the database (as the engine records
    // the volumes it makes), or GC would destroy it as a stranger.
    ASSERT_TRUE(pool_
                    ->exec("INSERT INTO workers (name, address, state, heartbeat_interval_ms,"
                           " ttl_ms, expires_at) VALUES ('w1', 'x:1', 'running', 200, 600, now())")
                    .ok());
    ASSERT_TRUE(pool_
                    ->exec("INSERT INTO volumes (handle, worker_name, state, type)"
                           " VALUES ('busybox', 'w1', 'created', 'resource')")
                    .ok());
    // Under valgrind the web can take longer than three 0.2 s beats to answer one, and the
    // worker would be stalled (and refused work) between two of them.
    const char* beat = std::getenv("TARMAC_TEST_WEB_WRAPPER") ? "1" : "0.2";
    extra_args_ = {"--registry", web_->registry_address(), "--name",
                   "w1",         "--heartbeat-interval",   beat};
    extra_args_.insert(extra_args_.end(), worker_extra_.begin(), worker_extra_.end());
    WorkerFixture::SetUp();
  }
  void TearDown() override {
    // A failed test is explained by what both daemons said (a stalled worker, a refused
    // call), which goes with their temp dirs.
    if (HasFailure()) {
      if (web_) std::cerr << "the end of the web's log:\n" << tail(web_->log()) << "\n";
      std::cerr << "the end of the worker's log:\n" << tail(log_text()) << "\n";
    }
    if (web_) web_->expect_alive_then_stop();
    WorkerFixture::TearDown();
  }
  // Before anything starts: certificates and flags of a variant.
  virtual void prepare() {}

  // The worker as the API lists it (null if absent).
  nlohmann::json api_worker() {
    auto r = http(web_->port(), "GET", "/api/v1/workers", admin_);
    if (r.status != 200) return nullptr;
    for (auto& w : r.json())
      if (w["name"] == "w1") return w;
    return nullptr;
  }
  // Waits up to `ms` for `pred` of the API's view of the worker.
  bool wait_worker(const std::function<bool(const nlohmann::json&)>& pred, int ms = 10000) {
    for (int waited = 0; waited < ms; waited += 50) {
      if (pred(api_worker())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  static auto in_state(const std::string& state) {
    return [state](const nlohmann::json& w) { return !w.is_null() && w["state"] == state; };
  }
  bool wait_rows_gone(const std::string& table, const std::string& handle, int ms = 10000) {
    for (int waited = 0; waited < ms; waited += 50) {
      auto r = pool_->query("SELECT 1 FROM " + table + " WHERE handle = $1", handle);
      if (r.ok() && r->empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  int64_t started_build() {
    atc::db::BuildStore builds(*pool_);
    auto b = builds.create_one_off("main", "{}", "admin");
    EXPECT_TRUE(b.ok());
    EXPECT_TRUE(builds.start(b->id).ok());
    return b->id;
  }
  void container_row(const std::string& handle, int64_t build) {
    auto r = pool_->query(
        "INSERT INTO containers (handle, worker_name, state, team_id, build_id)"
        " SELECT $1, 'w1', 'created', id, $2 FROM teams WHERE name = 'main'",
        handle, build);
    ASSERT_TRUE(r.ok()) << r.error().what();
  }

  std::string db_, admin_;
  std::vector<std::string> web_extra_, worker_extra_;
  bool https_ = false;
  std::unique_ptr<WebProcess> web_;
  std::unique_ptr<atc::db::Pool> pool_;
};

}  // namespace tarmac::testing
