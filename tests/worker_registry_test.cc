// The worker against an in-process registry: registration, heartbeats with handles, the
// registry restarting, backoff, distributed GC, land and retire, and who is let in.
#include <sys/stat.h>

#include "common/tls/keys.h"
#include "tests/test_registry.h"
#include "tests/worker_fixture.h"

namespace tarmac::testing {
namespace {

namespace v1 = worker::v1;
namespace rv1 = registry::v1;

class WorkerRegistryTest : public WorkerFixture {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (containers, mounts, cgroups)";
    ASSERT_EQ(registry_.start(), "");
    std::string types = dir_.path() + "/resource-types";
    ASSERT_TRUE(fs::make_dirs(types + "/git").ok());
    ASSERT_TRUE(fs::write_file(types + "/git/resource_metadata.json",
                               R"({"type":"git","version":"1.15.0","privileged":false})")
                    .ok());
    ASSERT_TRUE(fs::write_file(types + "/git/rootfs.tgz", "").ok());
    extra_args_ = {"--registry",
                   registry_.address(),
                   "--name",
                   "w1",
                   "--heartbeat-interval",
                   "0.1",
                   "--tag",
                   "fast",
                   "--team",
                   "main",
                   "--resource-types",
                   types};
    WorkerFixture::SetUp();
  }
  void TearDown() override {
    WorkerFixture::TearDown();
    registry_.stop();
  }

  // Polls `cond` for up to 10 s.
  template <typename F>
  bool eventually(F cond) {
    for (int i = 0; i < 500; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static bool has(const google::protobuf::RepeatedPtrField<std::string>& list,
                  const std::string& h) {
    return std::find(list.begin(), list.end(), h) != list.end();
  }

  baggageclaim::Volume volume(const std::string& handle, const std::string& parent = "") {
    baggageclaim::CreateSpec spec;
    spec.handle = handle;
    spec.privileged = true;
    if (!parent.empty()) {
      spec.strategy.kind = baggageclaim::Strategy::Kind::kCow;
      spec.strategy.parent = parent;
    }
    auto v = volumes_->create(spec);
    EXPECT_TRUE(v.ok()) << v.error().what();
    return v.ok() ? *v : baggageclaim::Volume{};
  }

  TestRegistry registry_;
};

// The worker registers with its record and heartbeats the handles it holds, leaving out the
// root filesystems it made for its containers.
TEST_F(WorkerRegistryTest, RegistersAndHeartbeatsItsHandles) {
  auto c = create("c1");
  volume("v1");
  ASSERT_TRUE(eventually([&] {
    auto w = registry_.worker("w1");
    return w && has(w->last_beat.container_handles(), "c1") &&
           has(w->last_beat.volume_handles(), "v1");
  }));
  auto w = *registry_.worker("w1");
  EXPECT_EQ(w.info.address(), worker_->address());
  EXPECT_EQ(w.info.platform(), "linux");
  ASSERT_EQ(w.info.tags_size(), 1);
  EXPECT_EQ(w.info.tags(0), "fast");
  EXPECT_EQ(w.info.team(), "main");
  ASSERT_EQ(w.info.resource_types_size(), 1);
  EXPECT_EQ(w.info.resource_types(0).type(), "git");
  EXPECT_EQ(w.info.resource_types(0).version(), "1.15.0");
  EXPECT_EQ(w.info.active_containers(), 1);
  EXPECT_EQ(w.info.heartbeat_interval_ms(), 100);
  EXPECT_EQ(w.info.ttl_ms(), 300);
  EXPECT_EQ(w.state, rv1::RUNNING);
  EXPECT_FALSE(has(w.last_beat.volume_handles(), c.rootfs_volume()));
  EXPECT_TRUE(has(w.last_beat.volume_handles(), "busybox"));
}

// A registry that restarts (and forgot the worker) gets a new registration; one that fails
// is retried with backoff, not at the heartbeat rate.
TEST_F(WorkerRegistryTest, RegistersAgainAfterRegistryRestartAndBacksOff) {
  ASSERT_TRUE(
      eventually([&] { return registry_.worker("w1") && registry_.worker("w1")->beats > 2; }));
  int port = registry_.port();
  registry_.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(registry_.start(port), "");
  ASSERT_TRUE(
      eventually([&] { return registry_.worker("w1") && registry_.worker("w1")->beats > 0; }));
  EXPECT_GE(registry_.registrations(), 1);

  registry_.fail_calls(true);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  int attempts = registry_.attempts();
  registry_.fail_calls(false);
  // At the 0.1 s heartbeat rate that would be 20; backoff from 0.5 s doubling allows ~4.
  EXPECT_GE(attempts, 1);
  EXPECT_LE(attempts, 6);
  ASSERT_TRUE(eventually([&] { return registry_.worker("w1")->beats > 3; }));
}

// The worker destroys exactly what the answer names: containers, volumes leaves first, not a
// container's root filesystem while it lives; and reports it on the next beats.
TEST_F(WorkerRegistryTest, GcDestroysExactlyWhatItIsTold) {
  auto a = create("a");
  auto b = create("b");
  create("c");
  volume("x");
  volume("x-child", "x");
  volume("y");
  volume("z");
  ASSERT_TRUE(eventually([&] { return registry_.worker("w1").has_value(); }));
  registry_.destroy_next("w1", {"a", "never-existed"}, {"y", "x-child", b.rootfs_volume()});
  ASSERT_TRUE(eventually([&] {
    auto w = registry_.worker("w1");
    return w->destroyed_containers.count("a") && w->destroyed_volumes.count("y") &&
           w->destroyed_volumes.count("x-child") && w->failed.count(b.rootfs_volume());
  }));
  auto w = *registry_.worker("w1");
  EXPECT_TRUE(w.destroyed_containers.count("never-existed"));  // gone is what was asked
  ASSERT_TRUE(eventually([&] {
    auto beat = registry_.worker("w1")->last_beat;
    return !has(beat.container_handles(), "a") && !has(beat.volume_handles(), "y");
  }));
  grpc::Status st;
  get("a", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  for (const char* kept : {"b", "c"}) {
    get(kept, &st);
    EXPECT_TRUE(st.ok()) << kept;
  }
  auto vols = volumes_->list();
  ASSERT_TRUE(vols.ok());
  std::set<std::string> left;
  for (const auto& v : *vols) left.insert(v.handle);
  EXPECT_TRUE(left.count("x") && left.count("z") && left.count("busybox"));
  EXPECT_TRUE(left.count(b.rootfs_volume()));
  EXPECT_FALSE(left.count("y") || left.count("x-child") || left.count(a.rootfs_volume()));
}

// land-worker while a task runs: the worker says it is landing, takes no new containers, waits
// for the task, tells the registry, and exits keeping its volumes.
TEST_F(WorkerRegistryTest, LandWaitsForTheRunningTask) {
  create("task");
  auto first =
      process(run_message("task", {"sh", "-c", "echo started; sleep 1; echo done"}, "t"), {}, 8);
  ASSERT_EQ(first.out, "started\n");
  std::string out;
  ASSERT_EQ(run_host(bin_dir() + "/tarmac land-worker --work-dir " + work_dir(), &out), 0) << out;
  ASSERT_TRUE(eventually([&] { return registry_.worker("w1")->state == rv1::LANDING; }));
  {
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_image_volume("busybox");
    grpc::ClientContext ctx;
    v1::Container c;
    auto s = containers_->Create(&ctx, req, &c);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_NE(s.error_message().find("landing"), std::string::npos) << s.error_message();
  }
  int status = worker_->wait_exit(10000);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(registry_.landed(), std::vector<std::string>{"w1"});
  // The task finished before the worker went.
  auto text = fs::read_file(work_dir() + "/containers/task/processes/t/exit");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "exited 0\n");
  EXPECT_FALSE(fs::list_dir(work_dir() + "/volumes/live")->empty());
  // Back again for TearDown.
  start_worker();
}

// SIGUSR2 retires: the registry forgets the worker and nothing of it is left on disk.
TEST_F(WorkerRegistryTest, RetireRemovesEverything) {
  create("r1");
  volume("data");
  ASSERT_TRUE(eventually([&] { return registry_.worker("w1").has_value(); }));
  ::kill(worker_->pid(), SIGUSR2);
  int status = worker_->wait_exit(10000);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(registry_.retired(), std::vector<std::string>{"w1"});
  EXPECT_FALSE(registry_.worker("w1").has_value());
  EXPECT_TRUE(fs::list_dir(work_dir() + "/volumes/live")->empty());
  EXPECT_TRUE(fs::list_dir(work_dir() + "/containers")->empty());
  EXPECT_TRUE(fs::list_dir(work_dir() + "/runtime")->empty());
  // The processes' output, kept on disk, went with its containers.
  EXPECT_EQ(*fs::list_dir(work_dir() + "/output"), (std::vector<std::string>{".spread", ".trash"}));
  EXPECT_TRUE(fs::list_dir(work_dir() + "/output/.trash")->empty());
  start_worker();
}

// The BOSH drain script: for an instance being deleted it retires the worker, waits for it
// to exit, and tells BOSH it is done (last line 0).
TEST_F(WorkerRegistryTest, BoshDrainScriptRetiresADeletedInstance) {
  ASSERT_TRUE(eventually([&] { return registry_.worker("w1").has_value(); }));
  std::string out;
  int rc = run_host("TARMAC=" + bin_dir() + "/tarmac WORK_DIR=" + work_dir() +
                        " BOSH_JOB_NEXT_STATE='{}' " + std::string(TARMAC_SOURCE_DIR) +
                        "/deploy/bosh/jobs/worker/templates/drain 2>/dev/null",
                    &out);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out, "0\n");
  int status = worker_->wait_exit(10000);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(registry_.retired(), std::vector<std::string>{"w1"});
  // Nothing left to drain: done at once.
  ASSERT_EQ(run_host("TARMAC=" + bin_dir() + "/tarmac WORK_DIR=" + work_dir() + " " +
                         std::string(TARMAC_SOURCE_DIR) +
                         "/deploy/bosh/jobs/worker/templates/drain 2>/dev/null",
                     &out),
            0);
  EXPECT_EQ(out, "0\n");
  start_worker();
}

// Mutual TLS, both ways: the worker's services need a client certificate from the CA; the
// registry lets in only authorized worker keys whose name is the worker's, and both sides
// say why a worker was refused.
class WorkerTlsTest : public WorkerRegistryTest {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (containers, mounts, cgroups)";
    certs_ = dir_.path() + "/certs";
    ASSERT_TRUE(fs::make_dirs(certs_).ok());
    ca_ = *tls::make_ca("test CA", 1);
    write("ca", ca_);
    write("w1", *tls::make_leaf(ca_, "w1", {"127.0.0.1", "localhost"}, 1));
    write("w2", *tls::make_leaf(ca_, "w2", {"127.0.0.1", "localhost"}, 1));
    write("web", *tls::make_leaf(ca_, "web", {"127.0.0.1", "localhost"}, 1));
    auto other = *tls::make_ca("other CA", 1);
    write("stranger", *tls::make_leaf(other, "w1", {"127.0.0.1"}, 1));
  }

  void write(const std::string& name, const tls::KeyPair& kp) {
    ASSERT_TRUE(fs::write_file(certs_ + "/" + name + ".key", kp.key_pem).ok());
    ASSERT_TRUE(fs::write_file(certs_ + "/" + name + ".crt", kp.cert_pem).ok());
  }
  tarmac::TlsFiles files(const std::string& name) const {
    return {certs_ + "/" + name + ".crt", certs_ + "/" + name + ".key", certs_ + "/ca.crt"};
  }
  std::string fingerprint(const std::string& name) const {
    return *tls::public_key_fingerprint(*fs::read_file(certs_ + "/" + name + ".crt"));
  }
  // The worker `name` with certificate `cert`, registering with a TLS registry that
  // authorizes only w1.
  void start_tls(const std::string& name, const std::string& cert) {
    ASSERT_EQ(registry_.start(0, files("web"), {fingerprint("w1")}), "");
    auto f = files(cert);
    extra_args_ = {"--registry",
                   registry_.address(),
                   "--name",
                   name,
                   "--heartbeat-interval",
                   "0.1",
                   "--tls-cert",
                   f.cert,
                   "--tls-key",
                   f.key,
                   "--tls-ca",
                   f.ca};
    tls_files_ = files("web");
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = *fs::read_file(certs_ + "/ca.crt");
    o.pem_cert_chain = *fs::read_file(certs_ + "/web.crt");
    o.pem_private_key = *fs::read_file(certs_ + "/web.key");
    channel_creds_ = grpc::SslCredentials(o);
    ::chmod(dir_.path().c_str(), 0711);
    start_worker();
    import_image();
  }

  std::string certs_;
  tls::KeyPair ca_;
};

// An authorized worker registers over mutual TLS; the web node's client reaches its services
// with its certificate, and a client without one, or with one from another CA, cannot.
TEST_F(WorkerTlsTest, AuthorizedWorkerRegistersAndServesOnlyCertifiedClients) {
  start_tls("w1", "w1");
  ASSERT_TRUE(eventually([&] { return registry_.worker("w1").has_value(); }));
  auto seen = process(run_message(create("tls").handle(), {"echo", "over tls"}));
  EXPECT_EQ(seen.out, "over tls\n");

  for (const std::string& who : {std::string(""), std::string("stranger")}) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = *fs::read_file(certs_ + "/ca.crt");
    if (!who.empty()) {
      o.pem_cert_chain = *fs::read_file(certs_ + "/" + who + ".crt");
      o.pem_private_key = *fs::read_file(certs_ + "/" + who + ".key");
    }
    auto stub =
        v1::Containers::NewStub(grpc::CreateChannel(worker_->address(), grpc::SslCredentials(o)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListContainersResponse resp;
    auto s = stub->List(&ctx, v1::ListContainersRequest(), &resp);
    EXPECT_FALSE(s.ok()) << "client " << (who.empty() ? "without a certificate" : who);
  }
  // And plaintext is not spoken at all.
  auto plain = v1::Containers::NewStub(
      grpc::CreateChannel(worker_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::ListContainersResponse resp;
  EXPECT_FALSE(plain->List(&ctx, v1::ListContainersRequest(), &resp).ok());
}

// A worker whose key the web node does not know is refused, and both sides name the key.
TEST_F(WorkerTlsTest, UnknownWorkerKeyIsRefusedOnBothSides) {
  start_tls("w2", "w2");
  std::string key = fingerprint("w2");
  ASSERT_TRUE(eventually([&] { return !registry_.refusals().empty(); }));
  EXPECT_NE(registry_.refusals()[0].find(key + " is not authorized"), std::string::npos)
      << registry_.refusals()[0];
  EXPECT_FALSE(registry_.worker("w2").has_value());
  ASSERT_TRUE(eventually([&] {
    return log_text().find(key + " is not authorized") != std::string::npos;
  })) << log_text();
}

// An authorized key cannot register under another worker's name.
TEST_F(WorkerTlsTest, KeyOfOneWorkerCannotClaimAnotherName) {
  start_tls("w3", "w1");
  ASSERT_TRUE(eventually([&] { return !registry_.refusals().empty(); }));
  EXPECT_NE(registry_.refusals()[0].find("belongs to \"w1\", not to \"w3\""), std::string::npos)
      << registry_.refusals()[0];
  EXPECT_FALSE(registry_.worker("w3").has_value());
}

}  // namespace
}  // namespace tarmac::testing
