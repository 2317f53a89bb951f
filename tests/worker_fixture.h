#pragma once

// A real `tarmac worker` process for tests, with a gRPC client of both its services and
// helpers to create containers and run processes in them.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "baggageclaim/client.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"
#include "tarmac/worker/v1/containers.grpc.pb.h"
#include "tests/server_process.h"
#include "tests/testutil.h"

namespace tarmac::testing {

namespace v1 = worker::v1;

// What a Process call saw.
struct Seen {
  std::string process_id;
  int pid = 0;
  std::string out, err;
  uint64_t next_offset = 0;
  uint64_t dropped = 0;
  bool exited = false;
  int exit_code = -1, signal = 0;
  grpc::Status status;
};

class WorkerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (containers, mounts, cgroups)";
    ::chmod(dir_.path().c_str(), 0711);  // the worker needs its work dir reachable (see there)
    start_worker();
    import_image();
  }

  void TearDown() override {
    if (worker_) worker_->expect_not_died("tarmac worker", log_path());
    if (containers_) {
      grpc::ClientContext ctx;
      v1::ListContainersResponse all;
      containers_->List(&ctx, v1::ListContainersRequest(), &all);
      for (const auto& c : all.containers()) destroy(c.handle());
    }
    stop_worker(SIGTERM);
    EXPECT_TRUE(baggageclaim::unmount_under(dir_.path()).ok());
    EXPECT_TRUE(mounts_under(dir_.path()).empty());
    remove_cgroup_parent(cgroup_parent());
  }

  static std::string cgroup_parent() { return "tarmac-wtest-" + std::to_string(::getpid()); }

  // Starts the worker with `extra_args_` after the usual ones; its stderr goes to log_path().
  void start_worker() {
    std::vector<std::string> args = {
        bin_dir() + "/tarmac",   "worker", "--work-dir",      work_dir(),
        "--bind-port",           "0",      "--cgroup-parent", cgroup_parent(),
        "--output-retain-bytes", "262144"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    worker_ = std::make_unique<ServerProcess>(args, log_path());
    ASSERT_EQ(worker_->start(), "") << log_text();
    if (!channel_creds_) channel_creds_ = grpc::InsecureChannelCredentials();
    channel_ = grpc::CreateChannel(worker_->address(), channel_creds_);
    containers_ = v1::Containers::NewStub(channel_);
    auto c = baggageclaim::Client::connect(worker_->address(), tls_files_);
    ASSERT_TRUE(c.ok()) << c.error().what();
    volumes_ = std::move(*c);
  }

  // The image: busybox imported into the volume "busybox".
  void import_image() {
    baggageclaim::CreateSpec image;
    image.handle = "busybox";
    image.privileged = true;
    image.strategy.kind = baggageclaim::Strategy::Kind::kImport;
    image.strategy.import_path = shared_busybox_rootfs();
    auto v = volumes_->create(image);
    ASSERT_TRUE(v.ok()) << v.error().what();
  }

  void stop_worker(int sig) {
    containers_.reset();
    volumes_.reset();
    channel_.reset();
    if (worker_) worker_->stop(sig);
  }

  v1::Container create(const std::string& handle, bool privileged = false) {
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_handle(handle);
    req.mutable_spec()->set_image_volume("busybox");
    req.mutable_spec()->set_privileged(privileged);
    (*req.mutable_spec()->mutable_properties())["role"] = "test";
    grpc::ClientContext ctx;
    v1::Container c;
    auto s = containers_->Create(&ctx, req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }

  grpc::Status destroy(const std::string& handle) {
    grpc::ClientContext ctx;
    v1::DestroyContainerRequest req;
    req.set_handle(handle);
    v1::DestroyContainerResponse resp;
    return containers_->Destroy(&ctx, req, &resp);
  }

  static v1::ProcessInput run_message(const std::string& handle, std::vector<std::string> argv,
                                      const std::string& id = "") {
    v1::ProcessInput in;
    in.mutable_run()->set_handle(handle);
    auto* p = in.mutable_run()->mutable_process();
    p->set_id(id);
    p->set_path(argv[0]);
    for (size_t i = 1; i < argv.size(); ++i) p->add_args(argv[i]);
    return in;
  }

  static v1::ProcessInput attach_message(const std::string& handle, const std::string& id,
                                         uint64_t from) {
    v1::ProcessInput in;
    in.mutable_attach()->set_handle(handle);
    in.mutable_attach()->set_process_id(id);
    in.mutable_attach()->set_from_offset(from);
    return in;
  }

  // Sends `first` then `inputs` (then closes its side), reads until the exit status, or until
  // `stop_after_bytes` of stdout arrived (then the client goes away).
  Seen process(const v1::ProcessInput& first, const std::vector<v1::ProcessInput>& inputs = {},
               size_t stop_after_bytes = 0) {
    Seen seen;
    grpc::ClientContext ctx;
    auto stream = containers_->Process(&ctx);
    stream->Write(first);
    for (const auto& in : inputs) stream->Write(in);
    v1::ProcessOutput out;
    bool closed = false;
    while (stream->Read(&out)) {
      if (out.has_started()) {
        seen.process_id = out.started().process_id();
        seen.pid = out.started().pid();
      } else if (out.has_output()) {
        (out.output().stream() == v1::ProcessOutput::STDERR ? seen.err : seen.out) +=
            out.output().data();
        seen.next_offset = out.output().next_offset();
        if (stop_after_bytes && seen.out.size() >= stop_after_bytes) {
          ctx.TryCancel();
          break;
        }
      } else if (out.has_dropped()) {
        seen.dropped += out.dropped();
      } else if (out.has_exit()) {
        seen.exited = true;
        seen.exit_code = out.exit().exit_code();
        seen.signal = out.exit().signal();
        stream->WritesDone();
        closed = true;
      }
    }
    if (!closed) stream->WritesDone();
    seen.status = stream->Finish();
    return seen;
  }

  v1::Container get(const std::string& handle, grpc::Status* status = nullptr) {
    grpc::ClientContext ctx;
    v1::GetContainerRequest req;
    req.set_handle(handle);
    v1::Container c;
    auto s = containers_->Get(&ctx, req, &c);
    if (status) *status = s;
    return c;
  }

  // Waits until the process has ended, as the worker reports it.
  bool wait_ended(const std::string& handle, const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      v1::Container c = get(handle);
      for (const auto& p : c.processes())
        if (p.id() == id && !p.running()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string work_dir() const { return dir_.path() + "/work"; }
  std::string log_path() const { return dir_.path() + "/worker.log"; }
  std::string log_text() const {
    auto t = fs::read_file(log_path());
    return t ? *t : "";
  }

  TempDir dir_{"worker-server"};
  std::vector<std::string> extra_args_;
  tarmac::TlsFiles tls_files_;  // what the test's volume client presents
  std::shared_ptr<grpc::ChannelCredentials> channel_creds_;
  std::unique_ptr<ServerProcess> worker_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<baggageclaim::Client> volumes_;
};

inline v1::ProcessInput stdin_message(const std::string& data) {
  v1::ProcessInput in;
  in.set_stdin(data);
  return in;
}

inline v1::ProcessInput close_stdin_message() {
  v1::ProcessInput in;
  in.set_close_stdin(true);
  return in;
}

}  // namespace tarmac::testing
