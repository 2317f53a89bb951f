// The fly binary against a real web node: login and targets, workers, builds, watch (with
// exit codes and resume), abort, land and prune, and the errors a Concourse user expects.
#include "atc/db/builds.h"
#include "tests/web_fixture.h"

namespace tarmac::testing {
namespace {

class FlyTest : public WebFixture {
 protected:
  // Runs fly with its own flyrc; stdout and stderr together in `out`.
  int fly(const std::string& args, std::string* out = nullptr) {
    std::string captured;
    int code = run_host("FLYRC=" + home_.path() + "/flyrc " + bin_dir() + "/fly " + args + " 2>&1",
                        &captured);
    if (out) *out = captured;
    return code;
  }
  void login() {
    std::string out;
    ASSERT_EQ(fly("-t ci login -c http://127.0.0.1:" + std::to_string(web_->port()) +
                      " -u admin -p secret",
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("target saved"), std::string::npos) << out;
  }
  TempDir home_{"tarmac-fly-home"};
};

// login saves a target; targets lists it; status says logged in; a wrong password, an
// unknown target and a missing -t say so.
TEST_F(FlyTest, LoginTargetsStatus) {
  std::string out;
  EXPECT_NE(
      fly("-t ci login -c http://127.0.0.1:" + std::to_string(web_->port()) + " -u admin -p wrong",
          &out),
      0);
  EXPECT_NE(out.find("invalid username or password"), std::string::npos) << out;
  login();
  ASSERT_EQ(fly("targets", &out), 0);
  EXPECT_NE(out.find("ci  http://127.0.0.1:" + std::to_string(web_->port()) + "  main"),
            std::string::npos)
      << out;
  ASSERT_EQ(fly("-t ci status", &out), 0);
  EXPECT_EQ(out, "logged in successfully\n");
  EXPECT_NE(fly("-t nope workers", &out), 0);
  EXPECT_NE(out.find("error: unknown target: nope"), std::string::npos) << out;
  EXPECT_NE(fly("workers", &out), 0);
  EXPECT_NE(out.find("no target specified"), std::string::npos) << out;
  // A token the web node no longer knows.
  ASSERT_TRUE(pool_->exec("DELETE FROM access_tokens").ok());
  EXPECT_EQ(fly("-t ci status", &out), 1);
  EXPECT_EQ(out, "logged out\n");
  EXPECT_NE(fly("-t ci workers", &out), 0);
  EXPECT_NE(out.find("not authorized"), std::string::npos) << out;
}

// workers lists registered workers (stalled ones apart, with the prune command); land-worker
// and prune-worker act, and pruning a running worker is refused with the reason.
TEST_F(FlyTest, WorkersLandPrune) {
  login();
  ASSERT_TRUE(pool_
                  ->exec("INSERT INTO workers (name, address, platform, tags, state,"
                         " heartbeat_interval_ms, ttl_ms, expires_at, active_containers)"
                         " VALUES ('w1', '10.0.0.1:7777', 'linux', '{gpu}', 'running', 1000,"
                         " 3000, now() + interval '1 h', 3),"
                         " ('w2', '10.0.0.2:7777', 'linux', '{}', 'stalled', 1000, 3000, now(), 0)")
                  .ok());
  // A running build's container holds w1 in landing (the GC pass would land it otherwise).
  atc::db::BuildStore builds(*pool_);
  auto b = builds.create_one_off("main", "{}", "admin");
  ASSERT_TRUE(b.ok() && builds.start(b->id).ok());
  ASSERT_TRUE(pool_
                  ->query("INSERT INTO containers (handle, worker_name, state, build_id)"
                          " VALUES ('c1', 'w1', 'created', $1)",
                          b->id)
                  .ok());
  std::string out;
  ASSERT_EQ(fly("-t ci workers --print-table-headers", &out), 0) << out;
  EXPECT_NE(out.find("name  containers  platform  tags  team  state"), std::string::npos) << out;
  EXPECT_NE(out.find("w1    3           linux     gpu   none  running"), std::string::npos) << out;
  EXPECT_NE(out.find("have not checked in recently"), std::string::npos) << out;
  EXPECT_NE(out.find("fly -t ci prune-worker -w w2"), std::string::npos) << out;

  EXPECT_NE(fly("-t ci prune-worker -w w1", &out), 0);
  EXPECT_NE(out.find("cannot prune a running worker"), std::string::npos) << out;
  ASSERT_EQ(fly("-t ci prune-worker --all-stalled", &out), 0) << out;
  EXPECT_EQ(out, "pruned 'w2'\n");
  ASSERT_EQ(fly("-t ci land-worker -w w1", &out), 0) << out;
  EXPECT_EQ(out, "landing 'w1'\n");
  ASSERT_EQ(fly("-t ci workers", &out), 0);
  EXPECT_NE(out.find("landing"), std::string::npos) << out;
  EXPECT_NE(fly("-t ci land-worker -w ghost", &out), 0);
  EXPECT_NE(out.find("ghost"), std::string::npos) << out;
}

// builds lists one-off builds; watch prints the log and exits with the build's code
// (succeeded 0, failed 1, errored 2, aborted 3); abort-build aborts.
TEST_F(FlyTest, BuildsWatchAbort) {
  login();
  atc::db::BuildStore builds(*pool_);
  auto run = [&](const std::string& status) {
    auto b = builds.create_one_off("main", "{}", "admin");
    EXPECT_TRUE(b.ok());
    EXPECT_TRUE(builds.start(b->id).ok());
    EXPECT_TRUE(
        builds
            .append_event(b->id, "log", "5.1",
                          R"({"origin":{"id":"t","source":"stdout"},"payload":"hello from )" +
                              status + R"(\n","time":1})")
            .ok());
    EXPECT_TRUE(
        builds.append_event(b->id, "status", "1.0", R"({"status":")" + status + R"(","time":2})")
            .ok());
    EXPECT_TRUE(builds.finish(b->id, status, 300).ok());
    return b->id;
  };
  for (auto [status, code] :
       {std::pair{"succeeded", 0}, std::pair{"failed", 1}, std::pair{"errored", 2}}) {
    std::string out;
    EXPECT_EQ(fly("-t ci watch -b " + std::to_string(run(status)), &out), code) << out;
    EXPECT_EQ(out, std::string("hello from ") + status + "\n" + status + "\n");
  }
  std::string out;
  ASSERT_EQ(fly("-t ci builds", &out), 0);
  EXPECT_NE(out.find("one-off  errored"), std::string::npos) << out;

  auto pending = builds.create_one_off("main", "{}", "admin");
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(fly("-t ci abort-build -b " + std::to_string(pending->id), &out), 0) << out;
  EXPECT_EQ(out, "build successfully aborted\n");
  EXPECT_EQ(fly("-t ci watch -b " + std::to_string(pending->id), &out), 3) << out;
  EXPECT_NE(fly("-t ci watch -b 424242", &out), 0);
  EXPECT_NE(out.find("not found"), std::string::npos) << out;
}

}  // namespace
}  // namespace tarmac::testing
