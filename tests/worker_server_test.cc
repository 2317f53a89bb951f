// tarmac worker end to end over gRPC on loopback: real containers on real volumes, processes
// that outlive their clients and the worker itself (kill -9), bad requests.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "baggageclaim/client.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"
#include "common/mountinfo.h"
#include "tarmac/worker/v1/containers.grpc.pb.h"
#include "tests/worker_fixture.h"

namespace tarmac::testing {
namespace {

namespace v1 = worker::v1;
class WorkerServerTest : public WorkerFixture {
 protected:
  // The host pid of a container's init, from the runtime's state.
  pid_t init_pid(const std::string& handle) {
    auto state = fs::read_file(work_dir() + "/runtime/" + handle + "/state.json");
    if (!state.ok()) return -1;
    auto pos = state->find("\"initPid\":");
    return pos == std::string::npos ? -1 : std::atoi(state->c_str() + pos + 10);
  }
  // The container is not found, and neither is its root filesystem volume.
  void expect_gone_with_its_volume(const std::string& handle, const std::string& rootfs_volume) {
    grpc::Status st;
    get(handle, &st);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    auto vols = volumes_->list();
    ASSERT_TRUE(vols.ok());
    for (const auto& v : *vols) EXPECT_NE(v.handle, rootfs_volume);
  }
};

// A process's stdout, stderr, stdin and exit code, in an unprivileged container where root is
// the mapped host uid.
TEST_F(WorkerServerTest, RunsAProcessWithStdioAndExitCode) {
  create("c1");
  auto seen = process(run_message("c1", {"sh", "-c", "echo out; echo err >&2; exit 3"}));
  ASSERT_TRUE(seen.status.ok()) << seen.status.error_message();
  EXPECT_EQ(seen.out, "out\n");
  EXPECT_EQ(seen.err, "err\n");
  ASSERT_TRUE(seen.exited);
  EXPECT_EQ(seen.exit_code, 3);

  seen = process(run_message("c1", {"sh", "-c", "cat; id -u; cat /proc/self/uid_map"}),
                 {stdin_message("hello "), stdin_message("world\n"), close_stdin_message()});
  ASSERT_TRUE(seen.exited) << seen.status.error_message();
  EXPECT_EQ(seen.exit_code, 0);
  EXPECT_EQ(seen.out.substr(0, 14), "hello world\n0\n") << seen.out;
  EXPECT_NE(seen.out.find("100000"), std::string::npos) << seen.out;

  // Both processes are listed with their end.
  auto c = get("c1");
  ASSERT_EQ(c.processes_size(), 2);
  for (const auto& p : c.processes()) EXPECT_FALSE(p.running());
}

// The container spec is honoured: volumes mounted read-only and read-write, env of container
// and process, the default user and dir, limits in the container's cgroup.
TEST_F(WorkerServerTest, ContainerSpecIsHonoured) {
  for (const char* h : {"in", "out"}) {
    baggageclaim::CreateSpec vs;
    vs.handle = h;
    ASSERT_TRUE(volumes_->create(vs).ok());
  }
  v1::CreateContainerRequest req;
  auto* spec = req.mutable_spec();
  spec->set_handle("spec");
  spec->set_image_volume("busybox");
  auto* in = spec->add_mounts();
  in->set_volume("in");
  in->set_path("/in");
  in->set_readonly(true);
  auto* out = spec->add_mounts();
  out->set_volume("out");
  out->set_path("/out");
  spec->add_env("FROM_CONTAINER=c");
  spec->set_user("vcap");
  spec->set_dir("/out");
  spec->mutable_limits()->set_memory_bytes(64 << 20);
  spec->mutable_limits()->set_pids(50);
  grpc::ClientContext ctx;
  v1::Container c;
  ASSERT_TRUE(containers_->Create(&ctx, req, &c).ok());

  auto run =
      run_message("spec", {"sh", "-c", "id -u; id -g; pwd; echo $FROM_CONTAINER$FROM_PROCESS"});
  run.mutable_run()->mutable_process()->add_env("FROM_PROCESS=p");
  auto seen = process(run);
  ASSERT_TRUE(seen.exited) << seen.status.error_message();
  EXPECT_EQ(seen.out, "1000\n1000\n/out\ncp\n") << seen.err;

  auto as_root = run_message(
      "spec", {"sh", "-c", "touch /out/made && echo out-rw; touch /in/made || echo in-ro"});
  as_root.mutable_run()->mutable_process()->set_user("root");
  seen = process(as_root);
  EXPECT_EQ(seen.out, "out-rw\nin-ro\n") << seen.err;
  auto outv = volumes_->get("out");
  ASSERT_TRUE(outv.ok());
  EXPECT_TRUE(fs::exists(outv->path + "/made"));

  std::string cg = cgroup_parent() + "/spec";
  // cgroup v1 here; the unified layout on a v2 host.
  bool v1_host = fs::exists("/sys/fs/cgroup/memory/" + cg);
  auto mem = fs::read_file(v1_host ? "/sys/fs/cgroup/memory/" + cg + "/memory.limit_in_bytes"
                                   : "/sys/fs/cgroup/" + cg + "/memory.max");
  auto pids = fs::read_file(v1_host ? "/sys/fs/cgroup/pids/" + cg + "/pids.max"
                                    : "/sys/fs/cgroup/" + cg + "/pids.max");
  ASSERT_TRUE(mem.ok()) << mem.error().what();
  ASSERT_TRUE(pids.ok()) << pids.error().what();
  EXPECT_EQ(*mem, std::to_string(64 << 20) + "\n");
  EXPECT_EQ(*pids, "50\n");
}

// A privileged container has the full capability set and no user namespace; an unprivileged
// one maps root to the worker's unprivileged range.
TEST_F(WorkerServerTest, PrivilegedAndUnprivilegedContainers) {
  create("priv", true);
  create("unpriv", false);
  auto p = process(
      run_message("priv", {"sh", "-c", "grep CapEff /proc/self/status; cat /proc/self/uid_map"}));
  auto u = process(
      run_message("unpriv", {"sh", "-c", "grep CapEff /proc/self/status; cat /proc/self/uid_map"}));
  // Everything the worker itself may hand on (hosts may withhold some capabilities from root).
  std::string status = *fs::read_file("/proc/self/status");
  auto bnd = status.find("CapBnd:\t");
  ASSERT_NE(bnd, std::string::npos);
  std::string all = status.substr(bnd + 8, 16);
  EXPECT_NE(p.out.find("CapEff:\t" + all), std::string::npos)
      << p.out << p.err << p.status.error_message();
  EXPECT_NE(p.out.find("4294967295"), std::string::npos) << p.out;
  EXPECT_EQ(u.out.find("CapEff:\t" + all), std::string::npos) << u.out;
  EXPECT_NE(u.out.find("100000"), std::string::npos) << u.out;
}

// Shims live in a cgroup of their own, not the worker's: a supervisor that stops the worker
// by killing its cgroup leaves them and their processes running.
TEST_F(WorkerServerTest, ShimsAreOutsideTheWorkersCgroup) {
  create("cg");
  auto first = process(run_message("cg", {"sh", "-c", "echo up; sleep 1000"}, "p"), {}, 3);
  ASSERT_GT(first.pid, 0);
  auto ppid = [](pid_t pid) {
    auto stat = fs::read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return 0;
    auto close = stat->rfind(')');
    return std::atoi(stat->c_str() + close + 4);  // ") S <ppid>"
  };
  pid_t shim = ppid(first.pid);  // the process is the shim's own child
  ASSERT_GT(shim, 1);
  auto comm = fs::read_file("/proc/" + std::to_string(shim) + "/comm");
  ASSERT_TRUE(comm.ok());
  EXPECT_EQ(*comm, "tarmac-shim\n");
  auto cgroups = fs::read_file("/proc/" + std::to_string(shim) + "/cgroup");
  ASSERT_TRUE(cgroups.ok());
  EXPECT_NE(cgroups->find(cgroup_parent() + "/shims"), std::string::npos) << *cgroups;
}

// A client that goes away leaves the process running; attaching again from the offset it
// last saw gives exactly the rest of the output and the exit status.
TEST_F(WorkerServerTest, ReattachAfterClientDisconnectGetsTheRest) {
  create("c2");
  std::string script = "i=0; while [ $i -lt 40 ]; do echo line$i; i=$((i+1)); sleep 0.02; done";
  auto first = process(run_message("c2", {"sh", "-c", script}, "p1"), {}, 6);
  ASSERT_GE(first.out.size(), 6u);
  EXPECT_FALSE(first.exited);
  ASSERT_TRUE(wait_ended("c2", "p1"));
  auto rest = process(attach_message("c2", "p1", first.next_offset));
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  ASSERT_TRUE(rest.exited);
  EXPECT_EQ(rest.exit_code, 0);
  std::string all;
  for (int i = 0; i < 40; ++i) all += "line" + std::to_string(i) + "\n";
  EXPECT_EQ(first.out + rest.out, all);
  // From the start again: everything.
  auto again = process(attach_message("c2", "p1", 0));
  EXPECT_EQ(again.out, all);
}

// kill -9 of the worker while a task runs: the task goes on; a new worker on the same work
// dir lists the container and its volumes, and an attach gets all the output, including what
// was written while no worker ran, and the exit status.
TEST_F(WorkerServerTest, KillNineMidTaskThenReattach) {
  auto c = create("c3");
  std::string script =
      "i=0; while [ $i -lt 30 ]; do echo tick$i; i=$((i+1)); sleep 0.05; done; exit 4";
  auto first = process(run_message("c3", {"sh", "-c", script}, "task"), {}, 6);
  ASSERT_FALSE(first.exited);
  // The runtime's state and the containers' records are on the tmpfs's the worker mounted;
  // the restarted worker finds them there and mounts nothing over them. The output is on disk.
  auto state_mounts = [&] {
    auto mounts = read_mountinfo();
    int n = 0;
    for (const MountPoint& m : mounts ? *mounts : std::vector<MountPoint>())
      n += m.path == work_dir() + "/runtime" || m.path == work_dir() + "/containers";
    return n;
  };
  for (const char* dir : {"/runtime", "/containers"}) {
    struct statfs sf;
    ASSERT_EQ(::statfs((work_dir() + dir).c_str(), &sf), 0);
    EXPECT_EQ(sf.f_type, TMPFS_MAGIC) << dir;
  }
  struct statfs out_fs;
  ASSERT_EQ(::statfs((work_dir() + "/output/c3/task/output").c_str(), &out_fs), 0);
  EXPECT_NE(out_fs.f_type, TMPFS_MAGIC);
  EXPECT_EQ(state_mounts(), 2);
  stop_worker(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // output while it is gone
  start_worker();
  EXPECT_EQ(state_mounts(), 2);
  grpc::Status st;
  auto again = get("c3", &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.rootfs_volume(), c.rootfs_volume());
  auto vols = volumes_->list();
  ASSERT_TRUE(vols.ok());
  bool rootfs_listed = false;
  for (const auto& v : *vols) rootfs_listed |= v.handle == c.rootfs_volume();
  EXPECT_TRUE(rootfs_listed);
  auto rest = process(attach_message("c3", "task", 0));
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  ASSERT_TRUE(rest.exited);
  EXPECT_EQ(rest.exit_code, 4);
  std::string all;
  for (int i = 0; i < 30; ++i) all += "tick" + std::to_string(i) + "\n";
  EXPECT_EQ(rest.out, all);
}

// A container whose init died while the worker was down cannot be recovered: the new worker
// destroys it whole (state and rootfs volume) and reports it gone.
TEST_F(WorkerServerTest, UnrecoverableContainerIsDestroyedOnRestart) {
  auto c = create("c4");
  auto seen = process(run_message("c4", {"sh", "-c", "cat /proc/1/status | grep ^Pid"}));
  ASSERT_TRUE(seen.exited);
  stop_worker(SIGKILL);
  pid_t init = init_pid("c4");
  ASSERT_GT(init, 1);
  ASSERT_EQ(::kill(init, SIGKILL), 0);
  start_worker();
  expect_gone_with_its_volume("c4", c.rootfs_volume());
  EXPECT_FALSE(fs::exists(dir_.path() + "/work/containers/c4"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/work/runtime/c4"));
}

// A pseudo-terminal of the asked size, resized while the process runs; signals reach it.
TEST_F(WorkerServerTest, TtyResizeAndSignal) {
  create("c5");
  auto run = run_message("c5", {"sh", "-c", "stty size; read x; stty size"});
  run.mutable_run()->mutable_process()->mutable_tty()->set_rows(10);
  run.mutable_run()->mutable_process()->mutable_tty()->set_columns(40);
  {
    // Resize only once the first size is out, then let it print the second.
    grpc::ClientContext ctx;
    auto stream = containers_->Process(&ctx);
    ASSERT_TRUE(stream->Write(run));
    std::string out;
    v1::ProcessOutput msg;
    bool resized = false, exited = false;
    while (stream->Read(&msg)) {
      if (msg.has_output()) out += msg.output().data();
      if (!resized && out.find("10 40") != std::string::npos) {
        v1::ProcessInput resize;
        resize.mutable_resize()->set_rows(20);
        resize.mutable_resize()->set_columns(60);
        ASSERT_TRUE(stream->Write(resize));
        ASSERT_TRUE(stream->Write(stdin_message("\n")));
        resized = true;
      }
      if (msg.has_exit()) {
        exited = true;
        stream->WritesDone();
      }
    }
    ASSERT_TRUE(stream->Finish().ok());
    ASSERT_TRUE(exited);
    EXPECT_TRUE(resized) << out;
    EXPECT_NE(out.find("20 60"), std::string::npos) << out;
  }

  v1::ProcessInput term;
  term.set_signal(SIGTERM);
  auto seen = process(run_message("c5", {"sleep", "100"}), {term});
  ASSERT_TRUE(seen.exited) << seen.status.error_message();
  EXPECT_EQ(seen.signal, SIGTERM);
}

// Destroy kills what runs, and removes the container's state and rootfs volume.
TEST_F(WorkerServerTest, DestroyLeavesNothing) {
  auto c = create("c6");
  auto first = process(run_message("c6", {"sh", "-c", "echo up; sleep 1000"}, "long"), {}, 3);
  ASSERT_GT(first.pid, 0);
  ASSERT_TRUE(destroy("c6").ok());
  EXPECT_NE(::kill(first.pid, 0), 0);
  auto vols = volumes_->list();
  ASSERT_TRUE(vols.ok());
  for (const auto& v : *vols) EXPECT_NE(v.handle, c.rootfs_volume());
  EXPECT_FALSE(fs::exists(dir_.path() + "/work/containers/c6"));
  EXPECT_FALSE(fs::exists(dir_.path() + "/work/runtime/c6"));
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/pids/" + cgroup_parent() + "/c6"));
  EXPECT_EQ(destroy("c6").error_code(), grpc::StatusCode::NOT_FOUND);
  // Its directory and volume were moved aside at once; their files go in the background.
  auto empty = [&](const std::string& dir) {
    for (int i = 0; i < 500; ++i) {
      auto names = fs::list_dir(dir);
      if (names && names->empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  EXPECT_TRUE(empty(work_dir() + "/containers/.trash"));
  EXPECT_TRUE(empty(work_dir() + "/output/.trash"));
  EXPECT_FALSE(fs::exists(work_dir() + "/output/c6"));
  EXPECT_TRUE(empty(work_dir() + "/volumes/dead"));
}

// A process started by a worker that kept output in the process's directory (the layout before
// output/) is still attached to with all of it after an upgrade.
TEST_F(WorkerServerTest, OutputInTheProcessDirectoryIsStillRead) {
  create("c13");
  auto first = process(run_message("c13", {"sh", "-c", "echo old layout"}, "p"));
  ASSERT_TRUE(first.exited);
  std::string out = work_dir() + "/output/c13/p", proc = work_dir() + "/containers/c13/processes/p";
  auto log = fs::read_file(out + "/output");
  ASSERT_TRUE(log.ok()) << log.error().what();
  ASSERT_TRUE(fs::write_file(proc + "/output", *log).ok());
  ASSERT_TRUE(fs::remove_all(out).ok());
  auto again = process(attach_message("c13", "p", 0));
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(again.exited);
  EXPECT_EQ(again.out, "old layout\n");
}

// A reboot clears the tmpfs's with the containers' records and the runtime's state, and ends
// every container: the next worker finds their root filesystem volumes and output on disk with
// no container to own them, and removes them.
TEST_F(WorkerServerTest, AfterARebootNothingOfTheOldContainersIsLeft) {
  auto c = create("c11");
  auto seen = process(run_message("c11", {"sh", "-c", "echo before"}, "p"));
  ASSERT_TRUE(seen.exited);
  ASSERT_TRUE(fs::exists(work_dir() + "/output/c11/p/output"));
  pid_t init = init_pid("c11");
  ASSERT_GT(init, 1);
  stop_worker(SIGKILL);
  // The reboot, as far as the worker can tell: its containers gone, both tmpfs's with them.
  ASSERT_EQ(::kill(init, SIGKILL), 0);
  for (int i = 0; i < 200 && ::kill(init, 0) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  for (const char* dir : {"/runtime", "/containers"})
    ASSERT_TRUE(baggageclaim::unmount(work_dir() + dir).ok()) << dir;
  start_worker();
  expect_gone_with_its_volume("c11", c.rootfs_volume());
  bool output_gone = false;
  for (int i = 0; i < 500 && !output_gone; ++i) {
    output_gone = !fs::exists(work_dir() + "/output/c11");
    if (auto trash = fs::list_dir(work_dir() + "/output/.trash"); !trash || !trash->empty())
      output_gone = false;
    if (!output_gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(output_gone);
  // And it works as before.
  create("c12");
  auto after = process(run_message("c12", {"sh", "-c", "echo after"}));
  EXPECT_EQ(after.out, "after\n");
}

// Properties are set, listed by filter, and kept across a restart.
TEST_F(WorkerServerTest, PropertiesFilterAndSurviveRestart) {
  create("c7");
  create("c8");
  {
    grpc::ClientContext ctx;
    v1::SetContainerPropertyRequest req;
    req.set_handle("c8");
    req.set_name("build");
    req.set_value("42");
    v1::Container c;
    ASSERT_TRUE(containers_->SetProperty(&ctx, req, &c).ok());
  }
  stop_worker(SIGTERM);
  start_worker();
  grpc::ClientContext ctx;
  v1::ListContainersRequest req;
  (*req.mutable_properties())["build"] = "42";
  v1::ListContainersResponse resp;
  ASSERT_TRUE(containers_->List(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.containers_size(), 1);
  EXPECT_EQ(resp.containers(0).handle(), "c8");
  EXPECT_EQ(resp.containers(0).properties().at("role"), "test");
}

// Bad requests get errors naming what was wrong, and the worker keeps serving.
TEST_F(WorkerServerTest, BadRequestsGetErrorsAndTheWorkerKeepsServing) {
  grpc::Status st;
  get("nope", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_image_volume("missing");
    v1::Container c;
    st = containers_->Create(&ctx, req, &c);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(st.error_message().find("image_volume"), std::string::npos) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_handle("../escape");
    req.mutable_spec()->set_image_volume("busybox");
    v1::Container c;
    st = containers_->Create(&ctx, req, &c);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.error_message().find("handle"), std::string::npos) << st.error_message();
  }
  // Names the worker keeps beside containers' own (.trash, .spread) are not handles.
  for (const char* reserved : {".spread", ".trash", ".x"}) {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_handle(reserved);
    req.mutable_spec()->set_image_volume("busybox");
    v1::Container c;
    st = containers_->Create(&ctx, req, &c);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << reserved;
    EXPECT_NE(st.error_message().find("reserved"), std::string::npos) << st.error_message();
  }
  {
    grpc::ClientContext ctx;
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_image_volume("busybox");
    auto* m = req.mutable_spec()->add_mounts();
    m->set_volume("busybox");
    m->set_path("relative");
    v1::Container c;
    st = containers_->Create(&ctx, req, &c);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("mounts[0].path"), std::string::npos) << st.error_message();
  }
  create("c9");
  auto seen = process(run_message("c9", {""}));
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(seen.status.error_message().find("process.path"), std::string::npos);
  seen = process(run_message("c9", {"/not/here"}));
  EXPECT_FALSE(seen.status.ok());
  EXPECT_NE(seen.status.error_message().find("/not/here"), std::string::npos)
      << seen.status.error_message();
  auto user = run_message("c9", {"true"});
  user.mutable_run()->mutable_process()->set_user("nobody-here");
  seen = process(user);
  EXPECT_NE(seen.status.error_message().find("nobody-here"), std::string::npos)
      << seen.status.error_message();
  seen = process(attach_message("c9", "no-such-process", 0));
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::NOT_FOUND);
  seen = process(stdin_message("no first message"));
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  seen = process(run_message("c9", {"true"}, "same"));
  ASSERT_TRUE(seen.exited);
  seen = process(run_message("c9", {"true"}, "same"));
  EXPECT_EQ(seen.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  {
    grpc::ClientContext ctx;
    v1::SetContainerPropertyRequest req;
    req.set_handle("c9");
    req.set_name(std::string(20 << 20, 'x'));  // over the server's message limit
    v1::Container c;
    st = containers_->SetProperty(&ctx, req, &c);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  }
  // Still serving.
  seen = process(run_message("c9", {"echo", "alive"}));
  EXPECT_EQ(seen.out, "alive\n");
}

// A process writing more than the worker keeps for absent clients: a late attach is told how
// much it missed and gets the newest output.
TEST_F(WorkerServerTest, OutputKeptForAbsentClientsIsBounded) {
  create("c10");
  auto first = process(
      run_message("c10", {"sh", "-c", "yes 0123456789abcdef | head -c 2000000; echo; echo end"},
                  "loud"),
      {}, 1);
  ASSERT_TRUE(wait_ended("c10", "loud"));
  auto late = process(attach_message("c10", "loud", 0));
  ASSERT_TRUE(late.exited) << late.status.error_message();
  EXPECT_GT(late.dropped, 1000000u);
  EXPECT_LE(late.out.size(), 262144u + 65536u);
  EXPECT_EQ(late.out.substr(late.out.size() - 4), "end\n");
  // Kept on disk, not in the process's directory on the tmpfs.
  EXPECT_TRUE(fs::exists(work_dir() + "/output/c10/loud/output"));
  EXPECT_FALSE(fs::exists(work_dir() + "/containers/c10/processes/loud/output"));
}

}  // namespace
}  // namespace tarmac::testing
