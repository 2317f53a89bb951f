// A real `tarmac worker` registered with a real `tarmac web` on a real PostgreSQL: beats,
// stall and recovery, land and retire with a container present, GC end to end, and a
// PostgreSQL restart under load.
#include <atomic>
#include <set>
#include <thread>

#include "atc/db/builds.h"
#include "common/tls/keys.h"
#include "tests/web_worker_fixture.h"

namespace tarmac::testing {
namespace {

class WebRegistryTest : public WebWorkerFixture {
 protected:
  // Restarts the fixture's worker registered with `web` (a node of a test's own PostgreSQL).
  void point_worker_at(const WebProcess& web) {
    stop_worker(SIGTERM);
    extra_args_ = {"--registry", web.registry_address(), "--name",
                   "w1",         "--heartbeat-interval", "0.2"};
    start_worker();
  }
  // Whether `web`'s API lists its one worker as running within ten seconds.
  static bool worker_running(const WebProcess& web, const std::string& token) {
    for (int i = 0; i < 100; ++i) {
      auto r = http(web.port(), "GET", "/api/v1/workers", token);
      if (r.status == 200 && r.json().size() == 1 && r.json()[0]["state"] == "running") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
};

// The worker registers and beats its counts; stopped, it is stalled after its ttl; resumed,
// it is running again.
TEST_F(WebRegistryTest, RegisterHeartbeatStallAndRecover) {
  ASSERT_TRUE(wait_worker(in_state("running"))) << web_->log();
  container_row("c1", started_build());  // known first, as the engine does, so GC keeps it
  create("c1");
  ASSERT_TRUE(wait_worker(
      [](const nlohmann::json& w) { return !w.is_null() && w["active_containers"] == 1; }));
  EXPECT_EQ(api_worker()["addr"], worker_->address());

  ::kill(worker_->pid(), SIGSTOP);
  bool stalled = wait_worker(in_state("stalled"));
  ::kill(worker_->pid(), SIGCONT);
  ASSERT_TRUE(stalled) << web_->log();
  EXPECT_TRUE(wait_worker(in_state("running"))) << web_->log();
}

// Landing waits for an unfinished build's container; the worker's own retire (SIGUSR2) with
// a running task shows retiring, then the worker is gone.
TEST_F(WebRegistryTest, LandAndRetireWithAContainerPresent) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  int64_t build = started_build();
  container_row("c1", build);
  create("c1");
  ASSERT_EQ(http(web_->port(), "PUT", "/api/v1/workers/w1/land", admin_).status, 200);
  ASSERT_TRUE(wait_worker(in_state("landing")));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // several GC passes
  EXPECT_EQ(api_worker()["state"], "landing");
  // The worker heard it in the answer to its beat: no new containers.
  v1::CreateContainerRequest req;
  req.mutable_spec()->set_handle("late");
  req.mutable_spec()->set_image_volume("busybox");
  grpc::ClientContext ctx;
  v1::Container late;
  auto refused = containers_->Create(&ctx, req, &late);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_NE(refused.error_message().find("landing"), std::string::npos);
  ASSERT_TRUE(atc::db::BuildStore(*pool_).finish(build, "succeeded", 300).ok());
  ASSERT_TRUE(wait_worker(in_state("landed"))) << web_->log();
  // Beats do not undo a landing; a restarted worker registers as running again.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(api_worker()["state"], "landed");
  stop_worker(SIGTERM);
  start_worker();
  ASSERT_TRUE(wait_worker(in_state("running"))) << web_->log();

  // The worker retires itself (SIGUSR2) around a running task.
  int64_t second = started_build();
  container_row("c2", second);
  create("c2");
  std::thread task([&] { process(run_message("c2", {"/bin/sleep", "2"}, "t")); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(worker_->pid(), SIGUSR2);
  EXPECT_TRUE(wait_worker(in_state("retiring"))) << web_->log();
  task.join();
  EXPECT_TRUE(wait_worker([](const nlohmann::json& w) { return w.is_null(); })) << web_->log();
  EXPECT_EQ(worker_->wait_exit(10000), 0);
}

// GC end to end: a container the database does not know is destroyed; a finished build's
// container goes, then its volume; rows vanish and the worker no longer holds the handles.
TEST_F(WebRegistryTest, GcEndToEnd) {
  ASSERT_TRUE(wait_worker(in_state("running")));
  // Rows first, then the things themselves, as the engine records what it makes.
  int64_t build = started_build();
  container_row("c1", build);
  ASSERT_TRUE(pool_
                  ->exec("INSERT INTO volumes (handle, worker_name, state, type, container_id)"
                         " SELECT 'v1', 'w1', 'created', 'container', id FROM containers"
                         " WHERE handle = 'c1'")
                  .ok());
  create("stray");
  create("c1");
  baggageclaim::CreateSpec vs;
  vs.handle = "v1";
  auto v = volumes_->create(vs);
  ASSERT_TRUE(v.ok()) << v.error().what();

  // The stray container goes; the build's container stays while the build runs.
  for (int i = 0; i < 200; ++i) {
    grpc::Status s;
    get("stray", &s);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  grpc::Status stray_status;
  get("stray", &stray_status);
  EXPECT_EQ(stray_status.error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status c1_status;
  get("c1", &c1_status);
  EXPECT_TRUE(c1_status.ok());

  ASSERT_TRUE(atc::db::BuildStore(*pool_).finish(build, "failed", 0).ok());
  ASSERT_TRUE(wait_rows_gone("containers", "c1")) << web_->log();
  get("c1", &c1_status);
  EXPECT_EQ(c1_status.error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(wait_rows_gone("volumes", "v1")) << web_->log();
  auto vol = volumes_->get("v1");
  EXPECT_FALSE(vol.ok());
}

// PostgreSQL restarted while a task writes a line every 50 ms: the output waits for the
// database instead of being dropped, and the build ends with every line once, in order.
TEST_F(WebRegistryTest, PostgresRestartMidTaskLosesNoLine) {
  auto own = PostgresServer::start();
  ASSERT_TRUE(own);
  std::string db = own->fresh_database_name();
  WebProcess web(*own, db, {"--gc-missing-grace-period", "0"});
  ASSERT_EQ(web.start(), "");
  std::string token = web.login("admin", "secret");
  point_worker_at(web);
  ASSERT_TRUE(worker_running(web, token));
  nlohmann::json plan = {
      {"id", "1"},
      {"task",
       {{"name", "one-off"},
        {"config",
         {{"platform", "linux"},
          {"rootfs_uri", "raw://" + shared_busybox_rootfs()},
          {"run",
           {{"path", "sh"},
            {"args", {"-c", "for i in $(seq 1 60); do echo line $i; sleep 0.05; done"}}}}}}}}};
  auto created = http(web.port(), "POST", "/api/v1/teams/main/builds", token, plan.dump(),
                      {{"Content-Type", "application/json"}});
  ASSERT_EQ(created.status, 201) << created.body;
  int64_t id = created.json()["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_TRUE(own->pg().restart().ok());
  std::string status;
  for (int i = 0; i < 300; ++i) {
    auto r = http(web.port(), "GET", "/api/v1/builds/" + std::to_string(id), token);
    status = r.status == 200 ? r.json().value("status", "") : "";
    if (status != "" && status != "pending" && status != "started") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, "succeeded") << web.log();
  auto pool = atc::db::Pool::create({own->pg().conninfo(db), 2});
  ASSERT_TRUE(pool.ok());
  auto events = atc::db::BuildStore(**pool).events(id, -1, 100000);
  ASSERT_TRUE(events.ok());
  std::string log, want;
  for (const auto& e : *events)
    if (e.type == "log") log += nlohmann::json::parse(e.payload)["payload"].get<std::string>();
  for (int i = 1; i <= 60; ++i) want += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(log, want);
  // The build's container goes with the fixture's teardown (the GC would wait for the
  // one-off grace period).
}

// PostgreSQL restarted under load: requests in the gap fail with 503 (never half-done), the
// web node reconnects by itself, every acknowledged write is there and the worker keeps its
// registration.
TEST_F(WebRegistryTest, PostgresRestartUnderLoad) {
  auto own = PostgresServer::start();
  ASSERT_TRUE(own);
  std::string db = own->fresh_database_name();
  WebProcess web(*own, db, {"--gc-missing-grace-period", "0"});
  ASSERT_EQ(web.start(), "");
  std::string token = web.login("admin", "secret");
  point_worker_at(web);

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> acknowledged;
  int failures = 0;
  std::thread load([&] {
    for (int i = 0; !stop; ++i) {
      std::string team = "t" + std::to_string(i);
      auto r = http(web.port(), "PUT", "/api/v1/teams/" + team, token,
                    R"({"auth":{"owner":{"users":["local:admin"]}}})",
                    {{"Content-Type", "application/json"}});
      std::lock_guard lock(mu);
      if (r.status == 201)
        acknowledged.insert(team);
      else
        ++failures;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_TRUE(own->pg().restart().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  load.join();

  auto pool = atc::db::Pool::create({own->pg().conninfo(db), 2});
  ASSERT_TRUE(pool.ok());
  auto rows = (*pool)->exec("SELECT name FROM teams");
  ASSERT_TRUE(rows.ok());
  std::set<std::string> stored;
  for (int i = 0; i < rows->size(); ++i) stored.insert((*rows)[i].str("name"));
  for (const auto& t : acknowledged) EXPECT_TRUE(stored.count(t)) << "lost " << t;
  EXPECT_GT(acknowledged.size(), 5u);
  // Served after the restart, and the worker is still (or again) running.
  EXPECT_TRUE(worker_running(web, token)) << web.log();
  stop_worker(SIGTERM);
}

// Two web nodes on one database: both start (migrations take turns), and a worker
// registered through one is served by the other.
TEST_F(WebRegistryTest, TwoWebNodesShareOneDatabase) {
  WebProcess second(shared_postgres(), db_);
  ASSERT_EQ(second.start(), "");
  ASSERT_TRUE(wait_worker(in_state("running")));
  std::string token = second.login("admin", "secret");
  auto r = http(second.port(), "GET", "/api/v1/workers", token);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.json().size(), 1u);
  EXPECT_EQ(r.json()[0]["name"], "w1");
}

// The registry over mutual TLS and the API over HTTPS, with worker keys authorized by
// fingerprint: the authorized worker registers; a worker of the same CA whose key is not
// authorized is refused.
class WebTlsTest : public WebRegistryTest {
 protected:
  void prepare() override {
    https_ = true;
    certs_ = dir_.path() + "/certs";
    ASSERT_TRUE(fs::make_dirs(certs_).ok());
    auto ca = *tls::make_ca("test CA", 1);
    write("ca", ca);
    for (const char* name : {"w1", "w2", "web"})
      write(name, *tls::make_leaf(ca, name, {"127.0.0.1", "localhost"}, 1));
    ASSERT_TRUE(fs::write_file(path("authorized"),
                               *tls::public_key_fingerprint(*fs::read_file(path("w1.crt"))) + "\n")
                    .ok());
    web_extra_ = {"--tsa-tls-cert",        path("web.crt"),    "--tsa-tls-key",
                  path("web.key"),         "--tsa-tls-ca",     path("ca.crt"),
                  "--tsa-authorized-keys", path("authorized"), "--tls-cert",
                  path("web.crt"),         "--tls-key",        path("web.key")};
    worker_extra_ = {"--tls-cert",   path("w1.crt"), "--tls-key",
                     path("w1.key"), "--tls-ca",     path("ca.crt")};
    tls_files_ = {path("web.crt"), path("web.key"), path("ca.crt")};
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = *fs::read_file(path("ca.crt"));
    o.pem_cert_chain = *fs::read_file(path("web.crt"));
    o.pem_private_key = *fs::read_file(path("web.key"));
    channel_creds_ = grpc::SslCredentials(o);
  }
  std::string path(const std::string& file) const { return certs_ + "/" + file; }
  void write(const std::string& name, const tls::KeyPair& kp) {
    ASSERT_TRUE(fs::write_file(path(name + ".key"), kp.key_pem).ok());
    ASSERT_TRUE(fs::write_file(path(name + ".crt"), kp.cert_pem).ok());
  }
  // curl over HTTPS, verifying the web node's certificate against the CA.
  std::string curl(const std::string& args) {
    std::string out;
    run_host("curl -sS --cacert " + path("ca.crt") + " " + args, &out);
    return out;
  }
  std::string url(const std::string& route) const {
    return "https://127.0.0.1:" + std::to_string(web_->port()) + route;
  }
  std::string certs_;
};

TEST_F(WebTlsTest, AuthorizedWorkerRegistersOverMutualTls) {
  auto token = nlohmann::json::parse(
      curl("-d 'grant_type=password&username=admin&password=secret' " + url("/sky/issuer/token")),
      nullptr, false);
  ASSERT_TRUE(token.is_object() && token.contains("access_token")) << token.dump();
  std::string auth = "-H 'Authorization: Bearer " + token["access_token"].get<std::string>() + "' ";
  bool running = false;
  for (int i = 0; i < 100 && !running; ++i) {
    running =
        curl(auth + url("/api/v1/workers")).find("\"state\":\"running\"") != std::string::npos;
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(running) << web_->log();
  // Plain HTTP to an HTTPS node gets nothing useful.
  EXPECT_NE(http(web_->port(), "GET", "/api/v1/info").status, 200);

  TempDir other("tarmac-w2");
  ::chmod(other.path().c_str(), 0711);
  ServerProcess w2({bin_dir() + "/tarmac",
                    "worker",
                    "--work-dir",
                    other.path() + "/work",
                    "--bind-port",
                    "0",
                    "--cgroup-parent",
                    cgroup_parent() + "-w2",
                    "--registry",
                    web_->registry_address(),
                    "--name",
                    "w2",
                    "--heartbeat-interval",
                    "0.2",
                    "--tls-cert",
                    path("w2.crt"),
                    "--tls-key",
                    path("w2.key"),
                    "--tls-ca",
                    path("ca.crt")},
                   other.path() + "/worker.log");
  ASSERT_EQ(w2.start(), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(curl(auth + url("/api/v1/workers")).find("\"w2\""), std::string::npos);
  EXPECT_NE(web_->log().find("not authorized"), std::string::npos) << web_->log();
  w2.stop(SIGTERM);
  EXPECT_TRUE(baggageclaim::unmount_under(other.path()).ok());
  remove_cgroup_parent(cgroup_parent() + "-w2");
}

}  // namespace
}  // namespace tarmac::testing
