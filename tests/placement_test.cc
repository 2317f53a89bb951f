// Placement across two real workers: tags steer tasks and uploads, untagged steps stay off
// tagged workers, and an input uploaded to one worker reaches a task on the other (relayed
// through the web node).
#include <sys/stat.h>

#include "baggageclaim/mounts.h"
#include "tests/web_worker_fixture.h"

namespace tarmac::testing {
namespace {

class PlacementTest : public WebWorkerFixture {
 protected:
  void prepare() override { web_extra_ = {"--gc-one-off-grace-period", "0"}; }

  void SetUp() override {
    WebWorkerFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ::chmod(w2_dir_.path().c_str(), 0711);
    w2_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{bin_dir() + "/tarmac", "worker", "--work-dir",
                                 w2_dir_.path() + "/work", "--bind-port", "0", "--cgroup-parent",
                                 w2_cgroup(), "--registry", web_->registry_address(), "--name",
                                 "w2", "--heartbeat-interval", "0.2", "--tag", "gpu"},
        w2_dir_.path() + "/worker.log");
    ASSERT_EQ(w2_->start(), "");
  }

  void TearDown() override {
    if (w2_) {
      w2_->expect_not_died("worker w2", w2_dir_.path() + "/worker.log");
      // Its build containers are the GC's to remove; whatever is left goes with the worker.
      w2_->stop(SIGTERM);
      kill_cgroup_members(w2_cgroup());
      EXPECT_TRUE(baggageclaim::unmount_under(w2_dir_.path()).ok());
      remove_cgroup_parent(w2_cgroup());
    }
    WebWorkerFixture::TearDown();
  }

  static std::string w2_cgroup() { return cgroup_parent() + "-w2"; }

  bool wait_running(const std::string& name) {
    for (int i = 0; i < 200; ++i) {
      auto r = http(web_->port(), "GET", "/api/v1/workers", admin_);
      for (auto& w : r.json())
        if (w["name"] == name && w["state"] == "running") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string fly_execute(const std::string& args, int* code) {
    std::string out;
    *code = run_host(
        "FLYRC=" + home_.path() + "/rc " + bin_dir() + "/fly -t ci execute " + args + " 2>&1",
        &out);
    return out;
  }

  TempDir w2_dir_{"tarmac-w2"};
  TempDir home_{"tarmac-fly-home"};
  std::unique_ptr<ServerProcess> w2_;
};

TEST_F(PlacementTest, TagsSteerStepsAndInputsFollowAcrossWorkers) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  ASSERT_TRUE(wait_running("w2"));
  ASSERT_EQ(run_host("FLYRC=" + home_.path() + "/rc " + bin_dir() +
                     "/fly -t ci login -c http://127.0.0.1:" + std::to_string(web_->port()) +
                     " -u admin -p secret >/dev/null 2>&1"),
            0);
  std::string task = home_.path() + "/task.yml";
  ASSERT_TRUE(fs::write_file(task, "platform: linux\nrootfs_uri: raw://" + shared_busybox_rootfs() +
                                       "\ninputs: [{name: src}]\n"
                                       "run: {path: cat, args: [src/hello.txt]}\n")
                  .ok());
  std::string src = home_.path() + "/src";
  ASSERT_TRUE(fs::make_dirs(src).ok());
  ASSERT_TRUE(fs::write_file(src + "/hello.txt", "hello from src\n").ok());

  // Tagged: the upload and the task both go to w2.
  int code = -1;
  std::string out = fly_execute("-c " + task + " -i src=" + src + " --tag gpu", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("selected worker: w2"), std::string::npos) << out;
  EXPECT_NE(out.find("hello from src"), std::string::npos) << out;
  // Untagged: only w1 may take it.
  out = fly_execute("-c " + task + " -i src=" + src, &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("selected worker: w1"), std::string::npos) << out;
  EXPECT_NE(out.find("hello from src"), std::string::npos) << out;

  // An upload on w1 given to a task that must run on w2: the input is relayed.
  std::string tgz = home_.path() + "/src.tgz";
  ASSERT_EQ(run_host("tar -C " + src + " -czf " + tgz + " ."), 0);
  auto body = fs::read_file(tgz);
  ASSERT_TRUE(body.ok());
  auto up = http(web_->port(), "POST", "/api/v1/teams/main/artifacts?platform=linux", admin_, *body,
                 {{"Content-Type", "application/octet-stream"}});
  ASSERT_EQ(up.status, 201) << up.body;
  int64_t artifact = up.json()["id"];
  auto where =
      pool_->query("SELECT worker_name FROM volumes WHERE worker_artifact_id = $1", artifact);
  ASSERT_TRUE(where.ok() && where->size() == 1);
  EXPECT_EQ((*where)[0].str("worker_name"), "w1");
  nlohmann::json config = {{"platform", "linux"},
                           {"rootfs_uri", "raw://" + shared_busybox_rootfs()},
                           {"inputs", {{{"name", "src"}}}},
                           {"run", {{"path", "cat"}, {"args", {"src/hello.txt"}}}}};
  nlohmann::json plan = {
      {"id", "1"},
      {"do",
       {{{"id", "2"}, {"artifact_input", {{"artifact_id", artifact}, {"name", "src"}}}},
        {{"id", "3"}, {"task", {{"name", "one-off"}, {"config", config}, {"tags", {"gpu"}}}}}}}};
  auto b = http(web_->port(), "POST", "/api/v1/teams/main/builds", admin_, plan.dump(),
                {{"Content-Type", "application/json"}});
  ASSERT_EQ(b.status, 201) << b.body;
  std::string id = std::to_string(b.json()["id"].get<int64_t>());
  std::string watched;
  EXPECT_EQ(
      run_host("FLYRC=" + home_.path() + "/rc " + bin_dir() + "/fly -t ci watch -b " + id + " 2>&1",
               &watched),
      0)
      << watched;
  EXPECT_NE(watched.find("selected worker: w2"), std::string::npos) << watched;
  EXPECT_NE(watched.find("hello from src"), std::string::npos) << watched;

  // The same upload cannot feed a second build.
  auto again = http(web_->port(), "POST", "/api/v1/teams/main/builds", admin_, plan.dump(),
                    {{"Content-Type", "application/json"}});
  EXPECT_EQ(again.status, 404) << again.body;
  EXPECT_NE(again.body.find("artifact " + std::to_string(artifact)), std::string::npos)
      << again.body;
}

}  // namespace
}  // namespace tarmac::testing
