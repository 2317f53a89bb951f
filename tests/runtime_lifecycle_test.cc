// Lifecycle of real containers: stop, crash, restart of the caller, destroy, bad specs.
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "common/fs.h"
#include "tests/runtime_fixture.h"
#include "worker/runtime/busybox_rootfs.h"
#include "worker/runtime/proc.h"
#include "worker/runtime/state_store.h"

namespace tarmac::testing {
namespace {

bool cgroup_exists(const std::string& parent, const std::string& id) {
  return fs::exists("/sys/fs/cgroup/memory/" + parent + "/" + id) ||
         fs::exists("/sys/fs/cgroup/pids/" + parent + "/" + id) ||
         fs::exists("/sys/fs/cgroup/" + parent + "/" + id);
}

// stop() of a process that ignores SIGTERM ends it with SIGKILL after the grace period.
TEST_F(RuntimeTest, StopEscalatesToKill) {
  auto s = spec({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"});
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPipes;
  auto made = runtime_->create(s, io);
  ASSERT_TRUE(made.ok()) << made.error().what();
  char buf[6];
  ASSERT_EQ(::read(made->stdio.stdout_fd.get(), buf, 6), 6);  // the trap is set
  auto st = made->container->stop(std::chrono::milliseconds(300));
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_EQ(st->signal, SIGKILL);
  ASSERT_TRUE(made->container->destroy().ok());
}

// stop() of a well-behaved process ends it with the stop signal.
TEST_F(RuntimeTest, StopWithSignal) {
  auto made = runtime_->create(spec({"sleep", "1000"}), {});
  ASSERT_TRUE(made.ok()) << made.error().what();
  auto st = made->container->stop(std::chrono::seconds(10));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->signal, SIGTERM);
  ASSERT_TRUE(made->container->destroy().ok());
}

// A crashed main process leaves nothing once destroyed: no process, cgroup, mount or state.
TEST_F(RuntimeTest, CrashLeavesNothingBehind) {
  auto made = runtime_->create(spec({"sh", "-c", "sleep 1000 & kill -SEGV $$"}), {});
  ASSERT_TRUE(made.ok()) << made.error().what();
  pid_t init = made->container->init_pid();
  auto st = made->container->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->signal, SIGSEGV);
  ASSERT_TRUE(made->container->destroy().ok());
  EXPECT_NE(::kill(init, 0), 0);
  EXPECT_FALSE(fs::exists(run_dir_.path() + "/" + id()));
  EXPECT_FALSE(cgroup_exists(test_runtime_options("").cgroup_parent, id()));
  EXPECT_TRUE(mounts_under(shared_busybox_rootfs()).empty());
}

// A caller killed with -9 after creating a container: a new caller finds it running, stops
// it and gets its exit status.
TEST_F(RuntimeTest, RestartedCallerFindsItsContainers) {
  // Made here, not in the child that dies by SIGKILL before it could clean up.
  auto s = spec({"sleep", "1000"});
  pid_t creator = ::fork();
  ASSERT_GE(creator, 0);
  if (creator == 0) {
    auto rt = runtime::make_runtime(test_runtime_options(run_dir_.path()));
    if (!rt) ::_exit(2);
    auto made = (*rt)->create(s, {});
    if (!made) ::_exit(3);
    ::kill(::getpid(), SIGKILL);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(creator, &status, 0), creator);
  ASSERT_TRUE(WIFSIGNALED(status)) << "creator exited " << WEXITSTATUS(status);

  auto again = runtime::make_runtime(test_runtime_options(run_dir_.path()));
  ASSERT_TRUE(again.ok());
  auto ids = (*again)->list();
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(*ids, std::vector<std::string>{id()});
  auto found = (*again)->find(id());
  ASSERT_TRUE(found.ok()) << found.error().what();
  auto polled = (*found)->poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_FALSE(polled->has_value()) << "still running";
  ASSERT_TRUE((*found)->signal(SIGTERM).ok());
  auto st = (*found)->wait();
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_EQ(st->signal, SIGTERM);
  ASSERT_TRUE((*found)->destroy().ok());
}

// A container left "creating" is reported as such while its creator lives, and removed
// whole once the creator is dead.
TEST_F(RuntimeTest, HalfCreatedContainerOnlyRemovedWhenCreatorIsDead) {
  std::string dir = run_dir_.path() + "/" + id();
  ASSERT_TRUE(fs::make_dirs(dir).ok());
  auto self = runtime::read_proc_stat(::getpid());
  ASSERT_TRUE(self.ok() && self->has_value());
  std::string cgroup = test_runtime_options("").cgroup_parent + "/" + id();
  std::string alive = "{\"id\":\"" + id() + "\",\"status\":\"creating\",\"cgroup\":\"" + cgroup +
                      "\",\"creatorPid\":" + std::to_string(::getpid()) +
                      ",\"creatorStartTime\":\"" + std::to_string((*self)->start_time) + "\"}";
  ASSERT_TRUE(fs::write_file(dir + "/state.json", alive).ok());
  ASSERT_TRUE(fs::write_file(dir + "/exit", "").ok());
  auto busy = runtime_->find(id());
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().errnum(), EAGAIN);
  EXPECT_TRUE(fs::exists(dir));

  std::string dead = "{\"id\":\"" + id() + "\",\"status\":\"creating\",\"cgroup\":\"" + cgroup +
                     "\",\"creatorPid\":" + std::to_string(::getpid()) +
                     ",\"creatorStartTime\":\"1\"}";
  ASSERT_TRUE(fs::write_file(dir + "/state.json", dead).ok());
  auto gone = runtime_->find(id());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().errnum(), ENOENT);
  EXPECT_FALSE(fs::exists(dir));
}

// A create that failed: an error naming `what` with `errnum`, and no state or cgroup left.
void expect_failed_leaving_nothing(const Result<runtime::CreatedContainer>& made,
                                   const std::string& what, int errnum,
                                   const std::string& state_dir, const std::string& id) {
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find(what), std::string::npos) << made.error().what();
  EXPECT_EQ(made.error().errnum(), errnum);
  EXPECT_FALSE(fs::exists(state_dir));
  EXPECT_FALSE(cgroup_exists(test_runtime_options("").cgroup_parent, id));
}

// An executable that does not exist is an error naming it and its errno; nothing remains.
TEST_F(RuntimeTest, MissingExecutableIsAnErrorAndLeavesNothing) {
  expect_failed_leaving_nothing(runtime_->create(spec({"/no/such/program"}), {}),
                                "exec /no/such/program", ENOENT, run_dir_.path() + "/" + id(),
                                id());
}

// A step of the filesystem that fails is an error naming it; the main process, which starts
// beside that work and waits for it, goes with the container, in a pid namespace of its own
// or in the host's (where only its parent-death signal ends it: a hang here would be it).
TEST_F(RuntimeTest, FilesystemFailureIsAnErrorAndLeavesNothing) {
  for (bool own_pids : {true, false}) {
    SCOPED_TRACE(own_pids ? "own pid namespace" : "host pid namespace");
    auto s = spec({"true"});
    s.namespaces.pid = own_pids;
    // A file onto the image's /bin directory: only the mount itself can find that out.
    s.mounts.push_back(bind_mount("/etc/hostname", "/bin"));
    expect_failed_leaving_nothing(runtime_->create(s, {}), "mount /etc/hostname on /bin", ENOTDIR,
                                  run_dir_.path() + "/" + id(), id());
  }
  // The runtime still creates containers after.
  auto ran = run(spec({"echo", "fine"}));
  EXPECT_EQ(ran.out, "fine\n");
}

// Bad specs are refused with the field named.
TEST_F(RuntimeTest, BadSpecsNameTheField) {
  auto s = spec({"true"});
  s.rootfs = "/no/such/rootfs";
  auto made = runtime_->create(s, {});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("rootfs"), std::string::npos) << made.error().what();

  s = spec({"true"});
  s.id = "../escape";
  made = runtime_->create(s, {});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("container id"), std::string::npos);

  s = spec({"true"});
  s.mounts.push_back(bind_mount("/tmp", "relative/path"));
  made = runtime_->create(s, {});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("mounts[0].destination"), std::string::npos);

  s = spec({"true"});
  s.capabilities = {"NOT_A_CAP"};
  made = runtime_->create(s, {});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("NOT_A_CAP"), std::string::npos);
}

// Creating an id that exists is refused and the running container is untouched.
TEST_F(RuntimeTest, DuplicateIdRefused) {
  auto first = runtime_->create(spec({"sleep", "1000"}), {});
  ASSERT_TRUE(first.ok());
  auto second = runtime_->create(spec({"true"}), {});
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find("already exists"), std::string::npos);
  auto polled = first->container->poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_FALSE(polled->has_value());
}

// A pty gives the process a terminal.
TEST_F(RuntimeTest, PtyIsATerminal) {
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPty;
  auto made = runtime_->create(spec({"sh", "-c", "test -t 0 && test -t 1 && echo tty"}), io);
  ASSERT_TRUE(made.ok()) << made.error().what();
  auto st = made->container->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->success());
  char buf[64] = {};
  ssize_t n = ::read(made->stdio.pty_master.get(), buf, sizeof buf - 1);
  EXPECT_GT(n, 0);
  EXPECT_NE(std::string(buf).find("tty"), std::string::npos);
}

// exec starts a second process inside a running container: same pid namespace, hostname and
// (absent) capabilities; its exit code comes back.
TEST_F(RuntimeTest, ExecJoinsRunningContainer) {
  auto s = spec({"sleep", "1000"});
  s.hostname = "exec-target";
  auto made = runtime_->create(s, {});
  ASSERT_TRUE(made.ok()) << made.error().what();
  runtime::Process p;
  p.args = {"sh", "-c", "cat /proc/1/comm; hostname; grep CapEff /proc/self/status; exit 7"};
  p.env = {"PATH=/bin"};
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPipes;
  auto proc = made->container->exec(p, io);
  ASSERT_TRUE(proc.ok()) << proc.error().what();
  (*proc)->stdio().stdin_fd.reset();
  std::string out = read_all((*proc)->stdio().stdout_fd.get());
  auto st = (*proc)->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->exit_code, 7);
  EXPECT_EQ(out, "tarmac-init\nexec-target\nCapEff:\t0000000000000000\n");
  ASSERT_TRUE(made->container->destroy().ok());
}

// An exec'd process is in every namespace of its container's init, whether the state names
// them (one setns of init's pidfd) or comes from before it did (then compared one by one), in
// each configuration that changes which namespaces a container has of its own.
TEST_F(RuntimeTest, ExecJoinsEveryNamespaceOfInitWithOldStatesToo) {
  TempDir mapped_rootfs("tarmac-userns-rootfs");
  ASSERT_TRUE(runtime::make_busybox_rootfs(mapped_rootfs.path()).ok());
  ASSERT_EQ(run_host("chown -R 100000:100000 " + mapped_rootfs.path()), 0);
  struct Variant {
    const char* name;
    std::function<void(runtime::ContainerSpec&)> change;
  };
  const Variant variants[] = {
      {"host network", [](runtime::ContainerSpec&) {}},
      {"own network", [](runtime::ContainerSpec& s) { s.namespaces.network = true; }},
      {"host pid", [](runtime::ContainerSpec& s) { s.namespaces.pid = false; }},
      {"privileged", [](runtime::ContainerSpec& s) { s.privileged = true; }},
      {"user namespace",
       [&](runtime::ContainerSpec& s) {
         s.rootfs = mapped_rootfs.path();
         s.namespaces.user = true;
         s.namespaces.network = true;
         s.uid_map = {{0, 100000, 65536}};
         s.gid_map = {{0, 100000, 65536}};
       }},
  };
  const std::string kinds = "user ipc uts net pid cgroup mnt";
  auto namespaces_of_exec = [&](runtime::Container& c) {
    runtime::Process p;
    p.args = {"sh", "-c", "for n in " + kinds + "; do readlink /proc/self/ns/$n; done"};
    p.env = {"PATH=/bin"};
    runtime::StdioConfig io;
    io.mode = runtime::StdioConfig::Mode::kPipes;
    auto proc = c.exec(p, io);
    if (!proc.ok()) return "exec: " + proc.error().what();
    (*proc)->stdio().stdin_fd.reset();
    std::string out = read_all((*proc)->stdio().stdout_fd.get());
    (void)(*proc)->wait();
    return out;
  };
  runtime::StateStore store(run_dir_.path());
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.name);
    auto s = spec({"sleep", "1000"});
    v.change(s);
    auto made = runtime_->create(s, {});
    ASSERT_TRUE(made.ok()) << made.error().what();
    auto state = store.load(id());
    ASSERT_TRUE(state.ok()) << state.error().what();
    EXPECT_NE(state->namespaces() & CLONE_NEWNS, 0u);
    std::string want;
    ASSERT_EQ(run_host("for n in " + kinds + "; do readlink /proc/" +
                           std::to_string(state->init_pid()) + "/ns/$n; done",
                       &want),
              0);
    EXPECT_EQ(namespaces_of_exec(*made->container), want);

    state->clear_namespaces();
    ASSERT_TRUE(store.save(*state).ok());
    auto found = runtime_->find(id());
    ASSERT_TRUE(found.ok()) << found.error().what();
    EXPECT_EQ(namespaces_of_exec(**found), want);
    ASSERT_TRUE((*found)->destroy().ok());
  }
}

// A container without a main process: init alone holds it, exec'd processes run in it, and
// stop ends it with the stop signal (right after create, before init could be scheduled).
TEST_F(RuntimeTest, InitOnlyContainerRunsExecsAndStops) {
  auto s = spec({});
  s.main_process = false;
  auto made = runtime_->create(s, {});
  ASSERT_TRUE(made.ok()) << made.error().what();
  auto polled = made->container->poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_FALSE(polled->has_value());
  runtime::Process p;
  p.args = {"sh", "-c", "ps -o comm | sort | tr '\\n' ' '"};
  p.env = {"PATH=/bin"};
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPipes;
  auto proc = made->container->exec(p, io);
  ASSERT_TRUE(proc.ok()) << proc.error().what();
  (*proc)->stdio().stdin_fd.reset();
  std::string out = read_all((*proc)->stdio().stdout_fd.get());
  ASSERT_TRUE((*proc)->wait().ok());
  EXPECT_NE(out.find("tarmac-init"), std::string::npos) << out;
  // Once reaped its pid is free for anyone: a signal is refused, never sent.
  auto late = (*proc)->signal(SIGKILL);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().errnum(), ESRCH) << late.error().what();
  auto st = made->container->stop(std::chrono::seconds(10));
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_EQ(st->signal, SIGTERM);
  ASSERT_TRUE(made->container->destroy().ok());
}

// exec of a program that does not exist fails with its name; the container keeps running.
TEST_F(RuntimeTest, ExecMissingProgramIsAnError) {
  auto made = runtime_->create(spec({"sleep", "1000"}), {});
  ASSERT_TRUE(made.ok());
  runtime::Process p;
  p.args = {"/not/here"};
  auto proc = made->container->exec(p, {});
  ASSERT_FALSE(proc.ok());
  EXPECT_NE(proc.error().message().find("exec /not/here"), std::string::npos)
      << proc.error().what();
  auto polled = made->container->poll();
  ASSERT_TRUE(polled.ok());
  EXPECT_FALSE(polled->has_value());
}

}  // namespace
}  // namespace tarmac::testing
