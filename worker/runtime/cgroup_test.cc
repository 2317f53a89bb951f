#include "worker/runtime/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/fs.h"

namespace tarmac::runtime {
namespace {

std::string read(const std::string& path) {
  auto t = fs::read_file(path);
  return t ? *t : "<missing>";
}

// A directory laid out like /sys/fs/cgroup on a pure v2 host; its control files are plain.
class CgroupV2Fake : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::make_temp_dir("tarmac-cgroup2");
    ASSERT_TRUE(dir.ok());
    root_ = *dir;
    ASSERT_TRUE(fs::write_file(root_ + "/cgroup.controllers", "cpuset cpu io memory pids\n").ok());
    ASSERT_TRUE(fs::write_file(root_ + "/cgroup.subtree_control", "").ok());
  }
  void TearDown() override { (void)fs::remove_all(root_); }
  std::string root_;
};

// Detection picks v2 for a cgroup2-like tree.
TEST_F(CgroupV2Fake, DetectsV2) {
  auto d = detect_cgroup_driver(root_);
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ((*d)->version(), "v2");
}

// create enables controllers down the path; apply writes memory (swap off), pids, weight.
TEST_F(CgroupV2Fake, CreateAndApply) {
  auto d = make_cgroup_v2_driver(root_);
  ASSERT_TRUE(d.ok());
  // The child level needs cgroup.controllers too, as the kernel would show it.
  ASSERT_TRUE(fs::make_dirs(root_ + "/tarmac").ok());
  ASSERT_TRUE(fs::write_file(root_ + "/tarmac/cgroup.controllers", "cpu memory pids\n").ok());
  auto cg = (*d)->create("tarmac/c1");
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  EXPECT_EQ(read(root_ + "/cgroup.subtree_control"), "+cpu +memory +pids");
  EXPECT_EQ(read(root_ + "/tarmac/cgroup.subtree_control"), "+cpu +memory +pids");
  ASSERT_TRUE(fs::write_file(root_ + "/tarmac/c1/memory.swap.max", "max").ok());
  CgroupLimits l;
  l.memory_bytes = 64 << 20;
  l.pids_max = 32;
  l.cpu_shares = 1024;
  ASSERT_TRUE((*cg)->apply(l).ok());
  EXPECT_EQ(read(root_ + "/tarmac/c1/memory.max"), "67108864");
  EXPECT_EQ(read(root_ + "/tarmac/c1/memory.swap.max"), "0");
  EXPECT_EQ(read(root_ + "/tarmac/c1/pids.max"), "32");
  EXPECT_EQ(read(root_ + "/tarmac/c1/cpu.weight"), "39");
  for (auto [shares, weight] : {std::pair{2, "1"}, std::pair{262144, "10000"}}) {
    l = {};
    l.cpu_shares = shares;
    ASSERT_TRUE((*cg)->apply(l).ok());
    EXPECT_EQ(read(root_ + "/tarmac/c1/cpu.weight"), weight);
  }
}

// oom_kills reads memory.events; open of a missing cgroup names its path.
TEST_F(CgroupV2Fake, OomKillsAndOpen) {
  auto d = make_cgroup_v2_driver(root_);
  ASSERT_TRUE(d.ok());
  auto cg = (*d)->create("c2");
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE(
      fs::write_file(root_ + "/c2/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
          .ok());
  EXPECT_EQ(*(*cg)->oom_kills(), 2u);
  // Names that could reach a cgroup outside the container's are refused before any access.
  for (const char* bad : {"", "/abs", "a/../..", "..", "a//b", "a/"})
    EXPECT_FALSE((*d)->open(bad).ok()) << bad;
  auto missing = (*d)->open("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(root_ + "/nope"), std::string::npos);
}

// A real cgroup2 mount: membership and cgroup.kill. Hosts with v1 controllers often still
// mount an (empty) cgroup2 at /sys/fs/cgroup/unified, enough for this part of the driver.
TEST(CgroupV2Real, MembershipAndCgroupKill) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
  std::string root =
      fs::exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified";
  if (!fs::exists(root + "/cgroup.controllers")) GTEST_SKIP() << "no cgroup2 mount on this host";
  auto d = make_cgroup_v2_driver(root);
  ASSERT_TRUE(d.ok()) << d.error().what();
  std::string name = "tarmac-test-" + std::to_string(::getpid());
  auto cg = (*d)->create(name + "/c");
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_TRUE((*cg)->add_process(pid).ok());
  auto pids = (*cg)->processes();
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(*pids, std::vector<pid_t>{pid});
  ASSERT_TRUE((*cg)->kill_all().ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE((*cg)->destroy().ok());
  ::rmdir((root + "/" + name).c_str());
  EXPECT_FALSE(fs::exists(root + "/" + name));
}

// On this host (cgroup v1): real limits, membership, OOM kill count, device rules, kill_all.
class CgroupV1Real : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    if (!fs::exists("/sys/fs/cgroup/memory/cgroup.procs"))
      GTEST_SKIP() << "this host has no cgroup v1 memory hierarchy (a pure v2 host)";
    auto d = detect_cgroup_driver("/sys/fs/cgroup");
    ASSERT_TRUE(d.ok()) << d.error().what();
    ASSERT_EQ((*d)->version(), "v1");
    driver_ = std::move(*d);
    parent_ = "tarmac-test-" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (cg_) {
      (void)cg_->kill_all();
      (void)cg_->destroy();
    }
    for (const char* h : {"memory", "pids", "cpu", "freezer", "devices"})
      ::rmdir(("/sys/fs/cgroup/" + std::string(h) + "/" + parent_).c_str());
  }
  // A child that joins the cgroup and then runs `fn`, exiting with its result.
  pid_t spawn(int (*fn)()) {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      char c;
      ::close(p[1]);
      if (::read(p[0], &c, 1) != 1) ::_exit(99);
      ::_exit(fn());
    }
    ::close(p[0]);
    EXPECT_TRUE(cg_->add_process(pid).ok());
    EXPECT_EQ(::write(p[1], "g", 1), 1);
    ::close(p[1]);
    return pid;
  }
  CgroupDriverPtr driver_;
  CgroupPtr cg_;
  std::string parent_;
};

// Limits land in the kernel's files and read back.
TEST_F(CgroupV1Real, ApplyLimits) {
  auto cg = driver_->create(parent_ + "/limits");
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  cg_ = std::move(*cg);
  CgroupLimits l;
  l.memory_bytes = 64 << 20;
  l.pids_max = 32;
  l.cpu_shares = 512;
  ASSERT_TRUE(cg_->apply(l).ok());
  std::string m = "/sys/fs/cgroup/memory/" + parent_ + "/limits/";
  EXPECT_EQ(read(m + "memory.limit_in_bytes"), "67108864\n");
  if (fs::exists(m + "memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(read(m + "memory.memsw.limit_in_bytes"), "67108864\n");
  }
  EXPECT_EQ(read("/sys/fs/cgroup/pids/" + parent_ + "/limits/pids.max"), "32\n");
  EXPECT_EQ(read("/sys/fs/cgroup/cpu/" + parent_ + "/limits/cpu.shares"), "512\n");
}

// A process added is listed, and kill_all ends it.
TEST_F(CgroupV1Real, MembershipAndKillAll) {
  auto cg = driver_->create(parent_ + "/members");
  ASSERT_TRUE(cg.ok());
  cg_ = std::move(*cg);
  pid_t pid = spawn([] {
    ::pause();
    return 0;
  });
  auto pids = cg_->processes();
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(*pids, std::vector<pid_t>{pid});
  ASSERT_TRUE(cg_->kill_all().ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_TRUE(cg_->destroy().ok());
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + parent_ + "/members"));
  cg_.reset();
}

// Allocating past the limit ends in an OOM kill that oom_kills() counts.
TEST_F(CgroupV1Real, OomKillCounted) {
  auto cg = driver_->create(parent_ + "/oom");
  ASSERT_TRUE(cg.ok());
  cg_ = std::move(*cg);
  CgroupLimits l;
  l.memory_bytes = 32 << 20;
  ASSERT_TRUE(cg_->apply(l).ok());
  pid_t pid = spawn([] {
    for (;;) {
      // volatile: the allocation must really happen, not be optimized away.
      volatile char* p = static_cast<char*>(::malloc(1 << 20));
      for (int i = 0; i < (1 << 20); i += 4096) p[i] = 1;
    }
    return 0;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_GE(*cg_->oom_kills(), 1u);
}

// restrict_devices: /dev/null opens, another character device does not.
TEST_F(CgroupV1Real, DeviceRules) {
  if (!fs::exists("/sys/fs/cgroup/devices/cgroup.procs")) GTEST_SKIP() << "no devices hierarchy";
  auto cg = driver_->create(parent_ + "/devices");
  ASSERT_TRUE(cg.ok());
  cg_ = std::move(*cg);
  CgroupLimits l;
  l.restrict_devices = true;
  ASSERT_TRUE(cg_->apply(l).ok());
  static std::string node = "/tmp/tarmac-devnode-" + std::to_string(::getpid());
  ASSERT_EQ(::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 1)), 0);  // /dev/mem
  pid_t pid = spawn([] {
    int ok = ::open("/dev/null", O_RDWR) >= 0;
    int refused = ::open(node.c_str(), O_RDONLY) < 0 && errno == EPERM;
    return ok && refused ? 0 : 1;
  });
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::unlink(node.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace tarmac::runtime
