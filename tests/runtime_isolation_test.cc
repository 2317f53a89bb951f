// Isolation, proved from inside real containers.
#include <net/if.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "tests/runtime_fixture.h"
#include "worker/runtime/busybox_rootfs.h"

namespace tarmac::testing {
namespace {

using runtime::Mount;

// A container's main process runs and its exit code comes back.
TEST_F(RuntimeTest, ExitCodePassesThrough) {
  EXPECT_TRUE(run(spec({"/bin/true"})).status.success());
  auto ran = run(spec({"sh", "-c", "echo hello; echo oops >&2; exit 3"}));
  EXPECT_EQ(ran.status.exit_code, 3);
  EXPECT_EQ(ran.status.signal, 0);
  EXPECT_EQ(ran.out, "hello\n");
  EXPECT_EQ(ran.err, "oops\n");
}

// stdin reaches the process through the pipe.
TEST_F(RuntimeTest, StdinRoundTrip) {
  auto ran = run(spec({"cat"}), "through the pipe\n");
  EXPECT_TRUE(ran.status.success());
  EXPECT_EQ(ran.out, "through the pipe\n");
}

// The container sees only its own processes: init as pid 1 and itself.
TEST_F(RuntimeTest, SeesOnlyItsOwnPids) {
  auto ran = run(spec({"sh", "-c", "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '"}));
  EXPECT_TRUE(ran.status.success()) << ran.err;
  // pid 1 is init, 2 the shell, and the rest its pipeline.
  EXPECT_EQ(ran.out.rfind("1 2 ", 0), 0u) << ran.out;
  auto comm = run(spec({"cat", "/proc/1/comm"}));
  EXPECT_EQ(comm.out, "tarmac-init\n");
  // Never its creator's command line: pid 1 shares its creator's memory until it execs, and
  // nothing of the container may run before that.
  for (int i = 0; i < 10; ++i) {
    auto cmdline = run(spec({"cat", "/proc/1/cmdline"}));
    EXPECT_EQ(cmdline.out.find("integration_test"), std::string::npos) << cmdline.out;
  }
}

// The container has its own hostname.
TEST_F(RuntimeTest, OwnHostname) {
  auto s = spec({"hostname"});
  s.hostname = "box-under-test";
  EXPECT_EQ(run(s).out, "box-under-test\n");
}

// By default the process has no capability at all, in any set.
TEST_F(RuntimeTest, NoCapabilitiesByDefault) {
  auto ran = run(spec({"grep", "^Cap", "/proc/self/status"}));
  EXPECT_EQ(ran.out,
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
            "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
            "CapAmb:\t0000000000000000\n");
}

// A capability asked for is all the process gets, and it works as a non-root user.
TEST_F(RuntimeTest, AskedCapabilityOnly) {
  auto s = spec({"grep", "^CapEff", "/proc/self/status"});
  s.capabilities = {"NET_BIND_SERVICE"};
  s.process.uid = 1000;
  s.process.gid = 1000;
  EXPECT_EQ(run(s).out, "CapEff:\t0000000000000400\n");
}

// The seccomp filter refuses unshare and mount even to root in the container.
TEST_F(RuntimeTest, SeccompRefusesNamespaceAndMount) {
  auto s = spec({"sh", "-c",
                 "unshare -m true 2>/dev/null && echo unshare-allowed;"
                 "mount -t tmpfs none /tmp 2>/dev/null && echo mount-allowed; echo checked"});
  auto ran = run(s);
  EXPECT_EQ(ran.out, "checked\n");
}

// Writes land only in the writable volume: the rootfs and read-only binds refuse them.
TEST_F(RuntimeTest, CannotWriteOutsideWritableVolumes) {
  TempDir rw("tarmac-rw"), ro("tarmac-ro");
  auto s = spec({"sh", "-c",
                 "echo x > /root/f 2>/dev/null && echo rootfs-writable;"
                 "echo x > /ro/f 2>/dev/null && echo ro-writable;"
                 "echo kept > /rw/f && echo rw-ok"});
  s.rootfs_readonly = true;
  s.mounts.push_back(bind_mount(rw.path(), "/rw", false));
  s.mounts.push_back(bind_mount(ro.path(), "/ro", true));
  auto ran = run(s);
  EXPECT_EQ(ran.out, "rw-ok\n") << ran.err;
  EXPECT_EQ(*fs::read_file(rw.path() + "/f"), "kept\n");
  EXPECT_FALSE(fs::exists(ro.path() + "/f"));
}

// A shared volume (bpm's `shared`) is in the host's peer group: a mount made under it in the
// container appears on the host, and one made on the host appears in the container. An
// ordinary volume keeps the container's mounts to itself.
TEST_F(RuntimeTest, SharedVolumePropagatesMountsBothWays) {
  TempDir dir("tarmac-shared");
  std::string shared = dir.path() + "/shared", plain = dir.path() + "/plain";
  ASSERT_TRUE(fs::make_dirs(shared + "/inner").ok());
  ASSERT_TRUE(fs::make_dirs(shared + "/from-host").ok());
  ASSERT_TRUE(fs::make_dirs(plain + "/inner").ok());
  // A non-shared source is refused by name before anything starts.
  auto refused = spec({"true"});
  refused.mounts.push_back(bind_mount(shared, "/shared"));
  refused.mounts.back().shared = true;
  auto made = runtime_->create(refused, {});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message().find("mounts[0].shared: " + shared + " is not a shared mount"),
            std::string::npos)
      << made.error().what();

  ASSERT_EQ(::mount(shared.c_str(), shared.c_str(), nullptr, MS_BIND, nullptr), 0);
  ASSERT_EQ(::mount("none", shared.c_str(), nullptr, MS_SHARED, nullptr), 0);
  auto unmount_all = [&] {
    for (const std::string& p :
         {shared + "/inner", shared + "/from-host", plain + "/inner", shared})
      ::umount2(p.c_str(), MNT_DETACH);
  };
  auto s = spec({"sh", "-c",
                 "mount -t tmpfs in-container /shared/inner && echo hi > /shared/inner/f &&"
                 "mount -t tmpfs in-container /plain/inner && echo no > /plain/inner/f &&"
                 "i=0; while [ ! -f /shared/from-host/g ] && [ $i -lt 500 ]; do"
                 "  sleep 0.02; i=$((i+1)); done; cat /shared/from-host/g"});
  s.privileged = true;
  s.mounts.push_back(bind_mount(shared, "/shared"));
  s.mounts.back().shared = true;
  s.mounts.push_back(bind_mount(plain, "/plain"));
  Ran ran;
  std::thread container([&] { ran = run(s); });
  bool seen = false;
  for (int i = 0; i < 500 && !seen; ++i) {
    seen = fs::exists(shared + "/inner/f");
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (seen) {
    EXPECT_EQ(*fs::read_file(shared + "/inner/f"), "hi\n");
    EXPECT_FALSE(fs::exists(plain + "/inner/f"));
    EXPECT_EQ(::mount("from-host", (shared + "/from-host").c_str(), "tmpfs", 0, nullptr), 0);
    EXPECT_TRUE(fs::write_file(shared + "/from-host/g", "from the host\n").ok());
  }
  container.join();
  unmount_all();
  ASSERT_TRUE(seen) << "the container's mount never reached the host: " << ran.err;
  EXPECT_EQ(ran.out, "from the host\n") << ran.err;
}

// A noexec volume cannot run programs.
TEST_F(RuntimeTest, NoexecVolumeRefusesExec) {
  TempDir vol("tarmac-noexec");
  ASSERT_EQ(run_host("cp /bin/busybox " + vol.path() + "/bb"), 0);
  auto s = spec({"sh", "-c", "/vol/bb true && echo ran || echo refused"});
  Mount m = bind_mount(vol.path(), "/vol");
  m.noexec = true;
  s.mounts.push_back(m);
  EXPECT_EQ(run(s).out, "refused\n");
}

// Masked /proc paths read as empty; read-only /proc paths refuse writes.
TEST_F(RuntimeTest, MaskedAndReadonlyProcPaths) {
  if (!fs::exists("/proc/keys")) GTEST_SKIP() << "this kernel has no /proc/keys to mask";
  auto ran = run(spec({"sh", "-c",
                       "wc -c < /proc/keys; echo 1 > /proc/sys/kernel/domainname 2>/dev/null "
                       "&& echo sys-writable; echo done"}));
  EXPECT_EQ(ran.out, "0\ndone\n") << ran.err;
}

// A symlink in the image cannot aim a mount at the host: "/escape -> /etc" means the
// rootfs's /etc, never the host's.
TEST_F(RuntimeTest, MountDestinationSymlinkStaysInRootfs) {
  TempDir rootfs("tarmac-evil-rootfs"), vol("tarmac-vol");
  ASSERT_TRUE(runtime::make_busybox_rootfs(rootfs.path()).ok());
  ASSERT_EQ(::symlink("/etc", (rootfs.path() + "/escape").c_str()), 0);
  std::string marker = "tarmac-marker-" + std::to_string(::getpid());
  ASSERT_TRUE(fs::write_file(vol.path() + "/" + marker, "in volume").ok());
  auto s = spec({"cat", "/etc/" + marker});
  s.rootfs = rootfs.path();
  s.mounts.push_back(bind_mount(vol.path(), "/escape"));
  auto ran = run(s);
  EXPECT_EQ(ran.out, "in volume") << ran.err;
  EXPECT_FALSE(fs::exists("/etc/" + marker));
  EXPECT_TRUE(fs::exists(rootfs.path() + "/etc/passwd"));
}

// The memory limit ends in an OOM kill that is reported as such.
TEST_F(RuntimeTest, MemoryLimitOomKillReported) {
  auto s = spec({"tail", "/dev/zero"});  // buffers an endless line
  s.limits.memory_bytes = 32 << 20;
  auto ran = run(s);
  EXPECT_EQ(ran.status.signal, SIGKILL);
  EXPECT_TRUE(ran.status.oom_killed) << ran.status.describe();
}

// The pids limit stops a fork bomb.
TEST_F(RuntimeTest, PidsLimitStopsForkBomb) {
  // Counted with shell builtins only: once the limit is reached nothing more can fork.
  auto s = spec({"sh", "-c",
                 "i=0; while [ $i -lt 64 ]; do (sleep 30 &) 2>/dev/null; i=$((i+1)); done;"
                 "n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n"});
  s.limits.pids_max = 16;
  auto ran = run(s);
  ASSERT_FALSE(ran.out.empty()) << ran.err;
  EXPECT_LE(std::stoi(ran.out), 16);
}

// The open_files rlimit holds inside.
TEST_F(RuntimeTest, OpenFilesLimit) {
  auto s = spec({"sh", "-c", "ulimit -n"});
  s.rlimits.push_back({RLIMIT_NOFILE, 64, 64});
  EXPECT_EQ(run(s).out, "64\n");
}

// An isolated network namespace has loopback up and nothing else.
TEST_F(RuntimeTest, IsolatedNetworkHasOnlyLoopback) {
  auto s = spec({"sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"});
  s.namespaces.network = true;
  EXPECT_EQ(run(s).out, "lo\n");
}

// Containers with networks of their own, many at once (more than the runtime keeps made ahead):
// each in a namespace of its own, never the host's nor another's, its loopback up.
TEST_F(RuntimeTest, EveryIsolatedNetworkIsFreshWithLoopbackUp) {
  TempDir out("tarmac-netns-out");
  constexpr int kContainers = 7;
  std::vector<runtime::ContainerPtr> running;
  for (int i = 0; i < kContainers; ++i) {
    auto s = spec({"sh", "-c",
                   "{ readlink /proc/self/ns/net; cat /sys/class/net/lo/flags; } > /out/n" +
                       std::to_string(i) + ".tmp; mv /out/n" + std::to_string(i) + ".tmp /out/n" +
                       std::to_string(i) + "; sleep 60"});
    s.id = id() + "-" + std::to_string(i);
    s.namespaces.network = true;
    s.mounts.push_back(bind_mount(out.path(), "/out"));
    auto made = runtime_->create(s, runtime::StdioConfig{});
    ASSERT_TRUE(made.ok()) << made.error().what();
    running.push_back(std::move(made->container));
  }
  char host[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", host, sizeof host - 1), 0);
  std::set<std::string> seen{host};
  for (int i = 0; i < kContainers; ++i) {
    std::string path = out.path() + "/n" + std::to_string(i);
    for (int tries = 0; tries < 200 && !fs::exists(path); ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto text = fs::read_file(path);
    ASSERT_TRUE(text.ok()) << "container " << i << " wrote nothing: " << text.error().what();
    std::istringstream lines(*text);
    std::string ns, flags;
    std::getline(lines, ns);
    std::getline(lines, flags);
    EXPECT_TRUE(seen.insert(ns).second) << "container " << i << " shares network " << ns;
    EXPECT_EQ(std::stoul(flags, nullptr, 16) & IFF_UP, static_cast<unsigned long>(IFF_UP))
        << "container " << i << ": lo flags " << flags;
  }
  for (auto& c : running) EXPECT_TRUE(c->destroy().ok());
}

// In a user namespace container root is an unprivileged host uid.
TEST_F(RuntimeTest, UserNamespaceMapsRoot) {
  TempDir rootfs("tarmac-userns-rootfs"), vol("tarmac-userns-vol");
  ASSERT_TRUE(runtime::make_busybox_rootfs(rootfs.path()).ok());
  ASSERT_EQ(run_host("chown -R 100000:100000 " + rootfs.path() + " " + vol.path()), 0);
  auto s = spec({"sh", "-c", "id -u; touch /vol/made"});
  s.rootfs = rootfs.path();
  s.namespaces.user = true;
  s.uid_map = {{0, 100000, 65536}};
  s.gid_map = {{0, 100000, 65536}};
  s.mounts.push_back(bind_mount(vol.path(), "/vol"));
  auto ran = run(s);
  EXPECT_EQ(ran.out, "0\n") << ran.err;
  struct stat st;
  ASSERT_EQ(::stat((vol.path() + "/made").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
}

}  // namespace
}  // namespace tarmac::testing
