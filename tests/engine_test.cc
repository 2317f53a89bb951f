// One-off builds run by the web node's engine on a real worker: placement, the image from a
// host directory, output as log events, exit codes to statuses, fly watch, and GC of the
// build's container and volume after the grace period.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "common/fs.h"
#include "tests/web_worker_fixture.h"

namespace tarmac::testing {
namespace {

class EngineTest : public WebWorkerFixture {
 protected:
  void prepare() override { web_extra_ = {"--gc-one-off-grace-period", "0"}; }

  // Posts a one-off build running `script` in busybox; its id.
  int64_t run_script(const std::string& script, const std::string& extra_config = "") {
    nlohmann::json plan = {{"id", "task-1"},
                           {"task",
                            {{"name", "one-off"},
                             {"config",
                              {{"platform", "linux"},
                               {"rootfs_uri", "raw://" + shared_busybox_rootfs()},
                               {"params", {{"GREETING", "hello"}}},
                               {"run", {{"path", "/bin/sh"}, {"args", {"-c", script}}}}}}}}};
    if (!extra_config.empty()) plan["task"]["config"].update(nlohmann::json::parse(extra_config));
    auto r = http(web_->port(), "POST", "/api/v1/teams/main/builds", admin_, plan.dump(),
                  {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    auto body = r.json();
    return body.is_object() ? body.value("id", int64_t{0}) : 0;
  }
  // Waits for the build to end; its status.
  std::string wait_build(int64_t id, int ms = 30000) {
    for (int waited = 0; waited < ms; waited += 100) {
      auto r = http(web_->port(), "GET", "/api/v1/builds/" + std::to_string(id), admin_);
      auto body = r.json();
      // Said, not thrown: what the server answered is the clue.
      if (!body.is_object())
        ADD_FAILURE() << "GET build " << id << ": " << r.status << " " << r.body;
      std::string status = body.is_object() ? body.value("status", "") : "";
      if (status != "pending" && status != "started" && !status.empty()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "timeout";
  }
  std::vector<nlohmann::json> events(int64_t id) {
    // Through the store: a finished build's events are packed into chunks.
    auto r = atc::db::BuildStore(*pool_).events(id, -1, 100000);
    std::vector<nlohmann::json> out;
    for (size_t i = 0; r && i < r->size(); ++i)
      out.push_back({{"event", (*r)[i].type}, {"data", nlohmann::json::parse((*r)[i].payload)}});
    return out;
  }
  // Waits for the task's first output.
  bool wait_first_log(int64_t id) {
    for (int i = 0; i < 300; ++i) {
      for (auto& e : events(id))
        if (e["event"] == "log") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // The command prefix of fly with its own flyrc in `home`.
  // For fly intercept: the worker running, fly logged in under `home`, and a build whose task
  // runs `script` (ending in a long sleep) past its first line of output; its id, 0 on failure.
  int64_t intercept_target(const TempDir& home, const std::string& script) {
    EXPECT_TRUE(wait_worker(in_state("running")));
    if (fly_login(home) != 0) {
      ADD_FAILURE() << "fly login failed";
      return 0;
    }
    int64_t id = run_script(script);
    if (wait_first_log(id)) return id;
    ADD_FAILURE() << "build " << id << " printed nothing";
    return 0;
  }
  void abort_and_expect_aborted(int64_t id) {
    auto r = http(web_->port(), "PUT", "/api/v1/builds/" + std::to_string(id) + "/abort", admin_);
    EXPECT_EQ(r.status, 204);
    EXPECT_EQ(wait_build(id), "aborted");
  }

  static std::string fly_in(const TempDir& home) {
    return "FLYRC=" + home.path() + "/rc " + bin_dir() + "/fly ";
  }
  // Logs that fly in to this web node as target "ci"; its exit code.
  int fly_login(const TempDir& home) {
    return run_host(fly_in(home) + "-t ci login -c http://127.0.0.1:" +
                    std::to_string(web_->port()) + " -u admin -p secret >/dev/null 2>&1");
  }
};

// A task runs in a container on the worker: its stdout and stderr arrive as log events, its
// params as env, its exit code decides the status; events in Concourse's order.
TEST_F(EngineTest, RunsATaskAndStreamsItsOutput) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t failing = run_script("echo $GREETING; echo oops >&2; pwd; exit 3");
  ASSERT_EQ(wait_build(failing), "failed") << web_->log();
  auto ev = events(failing);
  std::vector<std::string> types;
  std::string out, err;
  for (auto& e : ev) {
    types.push_back(e["event"]);
    if (e["event"] == "log")
      (e["data"]["origin"]["source"] == "stderr" ? err : out) +=
          e["data"]["payload"].get<std::string>();
  }
  ASSERT_GE(types.size(), 5u);
  EXPECT_EQ(types.front(), "selected-worker");
  EXPECT_EQ(ev.front()["data"]["selected_worker"], "w1");
  EXPECT_EQ(types[1], "initialize-task");
  EXPECT_EQ(types[2], "start-task");
  EXPECT_EQ(types[types.size() - 2], "finish-task");
  EXPECT_EQ(ev[types.size() - 2]["data"]["exit_status"], 3);
  EXPECT_EQ(types.back(), "status");
  EXPECT_EQ(ev.back()["data"]["status"], "failed");
  EXPECT_EQ(err, "oops\n");
  EXPECT_EQ(out.rfind("hello\n/tmp/build/", 0), 0u) << out;

  int64_t ok = run_script("echo fine");
  ASSERT_EQ(wait_build(ok), "succeeded") << web_->log();
}

// A bad task config errors the build with the parser's message; an image that is not a
// host directory says which are supported.
TEST_F(EngineTest, BadConfigErrorsTheBuild) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t bad = run_script("true", R"({"inputs": [{"path": "x"}]})");
  ASSERT_EQ(wait_build(bad), "errored");
  auto ev = events(bad);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.front()["event"], "error");
  EXPECT_NE(ev.front()["data"]["message"].get<std::string>().find("inputs[0].name: required"),
            std::string::npos)
      << ev.front().dump();
  int64_t image = run_script("true", R"({"rootfs_uri": "docker:///busybox"})");
  ASSERT_EQ(wait_build(image), "errored");
  EXPECT_NE(events(image).front()["data"]["message"].get<std::string>().find("raw:///PATH"),
            std::string::npos);
  // Plans of the wrong shape (numbers for names, a tag that is no string, a hook without its
  // step) error the build; the web node carries on.
  for (const char* plan :
       {R"({"id": 5, "task": {"name": 7}})", R"({"id": "1", "task": {"tags": [3]}})",
        R"({"id": "1", "ensure": {"ensure": {}}})", R"({"id": "1", "do": [{"artifact_input": 1}]})",
        R"({"id": "1", "artifact_output": {"name": 2}})"}) {
    auto r = http(web_->port(), "POST", "/api/v1/teams/main/builds", admin_, plan,
                  {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(wait_build(r.json()["id"].get<int64_t>()), "errored") << plan;
  }
  EXPECT_EQ(http(web_->port(), "GET", "/api/v1/info", "").status, 200);
}

// fly watch shows the output and passes the exit code through; after the one-off grace the
// GC destroys the build's container and working-dir volume on the worker.
TEST_F(EngineTest, WatchAndGcAfterTheBuild) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t id = run_script("echo watched; exit 1");
  ASSERT_EQ(wait_build(id), "failed");
  TempDir home("tarmac-fly-home");
  std::string out;
  ASSERT_EQ(fly_login(home), 0);
  EXPECT_EQ(run_host(fly_in(home) + "-t ci watch -b " + std::to_string(id) + " 2>&1", &out), 1);
  EXPECT_EQ(out, "selected worker: w1\ninitializing\nwatched\nfailed\n");

  // Collected (with no grace period, maybe before the watch above ended): no container of
  // the build in the database or on the worker, no container volume left.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    auto rows = pool_->query("SELECT 1 FROM containers WHERE build_id = $1", id);
    auto vols = pool_->query("SELECT 1 FROM volumes WHERE type = 'container'");
    grpc::ClientContext ctx;
    v1::ListContainersResponse held;
    grpc::Status listed = containers_->List(&ctx, v1::ListContainersRequest(), &held);
    gone = rows.ok() && rows->empty() && vols.ok() && vols->empty() && listed.ok() &&
           held.containers_size() == 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << web_->log();
}

// Aborting a running build stops its process (SIGTERM) and ends it aborted.
TEST_F(EngineTest, AbortStopsTheRunningTask) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t id = run_script("echo started; sleep 60");
  ASSERT_TRUE(wait_first_log(id)) << web_->log();
  ASSERT_EQ(
      http(web_->port(), "PUT", "/api/v1/builds/" + std::to_string(id) + "/abort", admin_).status,
      204);
  // The task sleeps 60 s; the wait gives up after 30: an ending at all means it was stopped.
  EXPECT_EQ(wait_build(id), "aborted") << web_->log();
  EXPECT_EQ(events(id).back()["data"]["status"], "aborted");
}

// A build no worker can take waits, says so, and can still be aborted.
TEST_F(EngineTest, AbortWhileWaitingForAWorker) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t id = run_script("true", R"({"platform": "plan9"})");
  bool waiting = false;
  for (int i = 0; i < 200 && !waiting; ++i) {
    for (auto& e : events(id))
      if (e["event"] == "waiting-for-worker") waiting = true;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(waiting) << web_->log();
  ASSERT_EQ(
      http(web_->port(), "PUT", "/api/v1/builds/" + std::to_string(id) + "/abort", admin_).status,
      204);
  EXPECT_EQ(wait_build(id), "aborted") << web_->log();
}

// A worker killed mid-task: the build ends errored with a message naming the worker, and does
// not hang.
TEST_F(EngineTest, WorkerLostMidTaskErrorsTheBuild) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t id = run_script("echo started; sleep 60");
  ASSERT_TRUE(wait_first_log(id)) << web_->log();
  stop_worker(SIGKILL);
  EXPECT_EQ(wait_build(id), "errored") << web_->log();
  auto ev = events(id);
  bool said = false;
  for (auto& e : ev)
    if (e["event"] == "error" &&
        e["data"]["message"].get<std::string>().find("worker w1 lost") != std::string::npos)
      said = true;
  EXPECT_TRUE(said) << nlohmann::json(ev).dump();
  // The worker comes back (its containers with it) for the fixture to clean up.
  start_worker();
}

// fly execute: a task file run as a one-off build, its output shown, its exit code passed
// through; bad task files and missing inputs are refused before anything runs.
TEST_F(EngineTest, FlyExecute) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  TempDir home("tarmac-fly-home");
  std::string fly = fly_in(home);
  ASSERT_EQ(fly_login(home), 0);
  auto task = [&](const std::string& name, const std::string& body) {
    std::string path = home.path() + "/" + name;
    EXPECT_TRUE(fs::write_file(path, body).ok());
    return path;
  };
  std::string ok = task("ok.yml", "platform: linux\nrootfs_uri: raw://" + shared_busybox_rootfs() +
                                      "\nparams: {WHO: world}\nrun:\n  path: sh\n  args: [-c, "
                                      "'echo hello $WHO']\n");
  std::string out;
  ASSERT_EQ(run_host(fly + "-t ci execute -c " + ok + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("executing build "), std::string::npos) << out;
  EXPECT_NE(out.find("hello world\nsucceeded\n"), std::string::npos) << out;

  std::string bad_exit =
      task("fail.yml", "platform: linux\nrootfs_uri: raw://" + shared_busybox_rootfs() +
                           "\nrun: {path: sh, args: [-c, 'exit 7']}\n");
  EXPECT_EQ(run_host(fly + "-t ci execute -c " + bad_exit + " 2>&1", &out), 1) << out;
  EXPECT_NE(out.find("failed"), std::string::npos) << out;

  // ((vars)) from -v; one not given is refused, naming it.
  std::string with_vars =
      task("vars.yml", "platform: linux\nrootfs_uri: raw://" + shared_busybox_rootfs() +
                           "\nparams: {WHO: ((who))}\nrun:\n  path: sh\n"
                           "  args: [-c, 'echo hello $WHO from ((where))']\n");
  ASSERT_EQ(
      run_host(fly + "-t ci execute -c " + with_vars + " -v who=vars -v where=fly 2>&1", &out), 0)
      << out;
  EXPECT_NE(out.find("hello vars from fly\n"), std::string::npos) << out;
  EXPECT_NE(run_host(fly + "-t ci execute -c " + with_vars + " -v who=vars 2>&1", &out), 0);
  EXPECT_NE(out.find("undefined vars: where"), std::string::npos) << out;

  std::string broken = task("broken.yml", "platform: linux\nrun:\n  args: [x]\n");
  EXPECT_NE(run_host(fly + "-t ci execute -c " + broken + " 2>&1", &out), 0);
  EXPECT_NE(out.find("broken.yml:2: run.path: required but missing"), std::string::npos) << out;
  std::string needs =
      task("needs.yml",
           "platform: linux\nrootfs_uri: raw:///x\ninputs: [{name: src}]\nrun: {path: ls}\n");
  EXPECT_NE(run_host(fly + "-t ci execute -c " + needs + " 2>&1", &out), 0);
  EXPECT_NE(out.find("missing required input `src`"), std::string::npos) << out;
}

// The web node killed (SIGKILL) mid-task and started again: the build is resumed, attached
// to the running task where its log stopped; it ends with the task's status and every line
// of output exactly once. A clean stop (SIGTERM) leaves the task running for the next start
// in the same way.
TEST_F(EngineTest, WebRestartMidBuildResumesTheTask) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  for (int sig : {SIGKILL, SIGTERM}) {
    SCOPED_TRACE(sig == SIGKILL ? "SIGKILL" : "SIGTERM");
    int64_t id = run_script(
        "for i in 1 2 3; do echo before $i; done; sleep 2; for i in 1 2 3; do echo after $i; "
        "done; exit 3");
    ASSERT_TRUE(wait_first_log(id));
    ASSERT_EQ(web_->restart(sig), "");
    EXPECT_EQ(wait_build(id), "failed") << web_->log();
    // Resumed and attached, not re-run: the lines before the restart are not repeated.
    EXPECT_NE(web_->log().find("resuming build " + std::to_string(id)), std::string::npos);
    EXPECT_NE(web_->log().find("attaching to"), std::string::npos);
    std::string log;
    int finishes = 0;
    for (auto& e : events(id)) {
      if (e["event"] == "log") log += e["data"]["payload"].get<std::string>();
      if (e["event"] == "finish-task") {
        ++finishes;
        EXPECT_EQ(e["data"]["exit_status"], 3);
      }
    }
    EXPECT_EQ(log, "before 1\nbefore 2\nbefore 3\nafter 1\nafter 2\nafter 3\n");
    EXPECT_EQ(finishes, 1);
  }
}

// fly intercept: a command in a running build's container over the hijack WebSocket, stdin
// piped in, output and exit status back; bash falls back to sh in an image without bash; a
// terminal gets a pty; a build without containers says so.
TEST_F(EngineTest, FlyIntercept) {
  TempDir home("tarmac-fly-home");
  std::string fly = fly_in(home);
  int64_t id = intercept_target(home, "echo ready; echo secret > /tmp/in-container; sleep 60");
  ASSERT_NE(id, 0);
  std::string b = std::to_string(id);
  std::string out;
  EXPECT_EQ(run_host("echo 'cat /tmp/in-container; echo $((6*7)); exit 5' | " + fly +
                         "-t ci intercept -b " + b + " -s one-off sh 2>&1",
                     &out),
            5)
      << out;
  EXPECT_EQ(out, "secret\n42\n");
  EXPECT_EQ(run_host("echo 'exit 3' | " + fly + "-t ci intercept -b " + b + " 2>&1", &out), 3)
      << out;
  EXPECT_NE(out.find("retrying with \"sh\""), std::string::npos) << out;
  // A terminal: the process gets one too, a device of the container's own devpts, sized as
  // this one (80x24 when it has no size).
  EXPECT_EQ(run_host("script -qec '" + fly + "-t ci intercept -b " + b +
                         " -- sh -c \"tty; stty size\"' /dev/null",
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("/dev/pts/0"), std::string::npos) << out;
  EXPECT_NE(out.find("24 80"), std::string::npos) << out;
  EXPECT_NE(run_host(fly + "-t ci intercept -b 99999 2>&1", &out), 0);
  EXPECT_NE(out.find("no containers matched"), std::string::npos) << out;
  abort_and_expect_aborted(id);
}

// A web node that serves one streaming request at a time: while an intercept session is
// open another is refused with 503 (a plain answer, not a crash or a hang), and once the
// first ends the next gets in.
class StreamingCapTest : public EngineTest {
 protected:
  void prepare() override {
    EngineTest::prepare();
    web_extra_.insert(web_extra_.end(), {"--max-streaming-requests", "1"});
  }
};

TEST_F(StreamingCapTest, ASecondInterceptIsRefusedWhileOneIsOpen) {
  TempDir home("tarmac-fly-home");
  std::string fly = fly_in(home);
  int64_t id = intercept_target(home, "echo ready; sleep 60");
  ASSERT_NE(id, 0);
  std::string b = std::to_string(id);
  std::string held = home.path() + "/held.out";
  int first_rc = -1;
  std::thread first([&] {
    first_rc = run_host(fly + "-t ci intercept -b " + b + " -- sh -c 'echo holding; sleep 4' >" +
                        held + " 2>&1");
  });
  // Until the first session holds the one place.
  bool holding = false;
  for (int i = 0; i < 600 && !holding; ++i) {
    auto text = fs::read_file(held);
    holding = text.ok() && text->find("holding") != std::string::npos;
    if (!holding) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string out;
  if (holding) {
    EXPECT_NE(run_host(fly + "-t ci intercept -b " + b + " -- true 2>&1", &out), 0) << out;
    EXPECT_NE(out.find("too many streaming requests at once (1, --max-streaming-requests)"),
              std::string::npos)
        << out;
  }
  first.join();
  ASSERT_TRUE(holding) << "the first intercept never ran";
  EXPECT_EQ(first_rc, 0);
  // The place comes free again (once the first session's handler has wound down), and the
  // web node still serves.
  int rc = -1;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    rc = run_host(fly + "-t ci intercept -b " + b + " -- true 2>&1", &out);
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(rc, 0) << out;
  abort_and_expect_aborted(id);
}

// Uploads that are not whole gzipped tars are refused and leave nothing behind: garbage
// gets 400 naming the problem, a body cut off mid-way leaves no artifact and its volume to
// the GC; downloads are the team's own.
TEST_F(EngineTest, BrokenUploadsLeaveNothing) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  auto count = [&](const std::string& sql) {
    auto r = pool_->exec(sql);
    return r.ok() ? (*r)[0].i64("n") : -1;
  };
  auto garbage = http(web_->port(), "POST", "/api/v1/teams/main/artifacts", admin_,
                      std::string(4096, 'x'), {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  EXPECT_NE(garbage.body.find("not a gzip tar stream"), std::string::npos) << garbage.body;

  // The headers promise a megabyte; a little arrives and the client goes.
  std::string head =
      "POST /api/v1/teams/main/artifacts HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " +
      admin_ + "\r\nContent-Length: 1048576\r\n\r\n";
  raw_exchange(web_->port(), head + std::string(1000, '\x1f'), 300);
  bool clean = false;
  for (int i = 0; i < 100 && !clean; ++i) {
    clean = count("SELECT count(*) AS n FROM worker_artifacts") == 0 &&
            count(
                "SELECT count(*) AS n FROM volumes WHERE type = 'artifact' AND state IN "
                "('creating', 'created')") == 0;
    if (!clean) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(clean);
  EXPECT_EQ(http(web_->port(), "GET", "/api/v1/info", "").status, 200);

  EXPECT_EQ(http(web_->port(), "GET", "/api/v1/teams/main/artifacts/abc", admin_).status, 400);
  EXPECT_EQ(http(web_->port(), "GET", "/api/v1/teams/main/artifacts/424242", admin_).status, 404);
  EXPECT_EQ(http(web_->port(), "POST", "/api/v1/teams/main/artifacts", "", "x").status, 401);
}

// fly execute -i/-o: the input goes up as git would send it (.gitignore respected unless
// -x), modes and symlinks intact both ways; a missing optional input is just absent; outputs
// come back into the given directory; privileged tasks get their inputs too.
TEST_F(EngineTest, FlyExecuteInputsAndOutputs) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  TempDir home("tarmac-fly-home");
  std::string fly = fly_in(home);
  ASSERT_EQ(fly_login(home), 0);
  std::string src = home.path() + "/src";
  ASSERT_TRUE(fs::make_dirs(src + "/bin").ok());
  ASSERT_TRUE(fs::make_dirs(src + "/build").ok());
  ASSERT_TRUE(fs::write_file(src + "/a.txt", "alpha\n").ok());
  ASSERT_TRUE(fs::write_file(src + "/bin/run.sh", "#!/bin/sh\necho run\n").ok());
  ASSERT_TRUE(fs::write_file(src + "/ignored.log", "noise").ok());
  ASSERT_TRUE(fs::write_file(src + "/build/junk", "junk").ok());
  ASSERT_TRUE(fs::write_file(src + "/.gitignore", "*.log\nbuild/\n").ok());
  ASSERT_EQ(::chmod((src + "/a.txt").c_str(), 0640), 0);
  ASSERT_EQ(::chmod((src + "/bin/run.sh").c_str(), 0755), 0);
  ASSERT_EQ(::symlink("a.txt", (src + "/link").c_str()), 0);
  ASSERT_EQ(run_host("cd " + src + " && git init -q && git add a.txt bin link .gitignore"), 0);
  ASSERT_TRUE(fs::write_file(src + "/untracked.txt", "new").ok());

  std::string task = home.path() + "/task.yml";
  ASSERT_TRUE(fs::write_file(task, "platform: linux\nrootfs_uri: raw://" + shared_busybox_rootfs() +
                                       "\ninputs:\n- name: src\n- name: opt\n  optional: true\n"
                                       "outputs:\n- name: out\ncaches:\n- path: cache\n"
                                       "run:\n  path: sh\n  args:\n  - -exc\n  - |\n"
                                       "    test -x src/bin/run.sh\n"
                                       "    test ! -e opt && echo no-opt\n"
                                       "    test -d cache\n"
                                       "    cp -a src/. out/\n"
                                       "    echo made > out/made.txt\n"
                                       "    chmod 0700 out/made.txt\n"
                                       "    ln -s made.txt out/made-link\n")
                  .ok());
  std::string dest = home.path() + "/dest";
  std::string out;
  ASSERT_EQ(
      run_host(fly + "-t ci execute -c " + task + " -i src=" + src + " -o out=" + dest + " 2>&1",
               &out),
      0)
      << out;
  EXPECT_NE(out.find("no-opt"), std::string::npos) << out;
  auto text = fs::read_file(dest + "/a.txt");
  ASSERT_TRUE(text.ok()) << out;
  EXPECT_EQ(*text, "alpha\n");
  struct stat st {};
  ASSERT_EQ(::lstat((dest + "/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  ASSERT_EQ(::lstat((dest + "/bin/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::lstat((dest + "/made.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  char target[64] = {};
  ASSERT_GT(::readlink((dest + "/link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "a.txt");
  std::memset(target, 0, sizeof target);
  ASSERT_GT(::readlink((dest + "/made-link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "made.txt");
  EXPECT_TRUE(fs::exists(dest + "/untracked.txt"));
  EXPECT_FALSE(fs::exists(dest + "/ignored.log"));
  EXPECT_FALSE(fs::exists(dest + "/build"));

  // -x sends what .gitignore leaves out; -p runs privileged with the same inputs.
  std::string all = home.path() + "/all";
  ASSERT_EQ(run_host(fly + "-t ci execute -c " + task + " -x -p -i src=" + src + " -o out=" + all +
                         " 2>&1",
                     &out),
            0)
      << out;
  EXPECT_TRUE(fs::exists(all + "/ignored.log")) << out;
  EXPECT_TRUE(fs::exists(all + "/build/junk")) << out;

  // Bad flags are refused before anything is uploaded.
  EXPECT_NE(run_host(fly + "-t ci execute -c " + task + " -i nope=" + src + " 2>&1", &out), 0);
  EXPECT_NE(out.find("unknown input `nope`"), std::string::npos) << out;
  EXPECT_NE(run_host(fly + "-t ci execute -c " + task + " -i src=" + src + "/a.txt 2>&1", &out), 0);
  EXPECT_NE(out.find("a.txt not a folder"), std::string::npos) << out;
  EXPECT_NE(run_host(fly + "-t ci execute -c " + task + " -i src=" + src + " -o bad=x 2>&1", &out),
            0);
  EXPECT_NE(out.find("unknown output 'bad'"), std::string::npos) << out;
}

}  // namespace
}  // namespace tarmac::testing
