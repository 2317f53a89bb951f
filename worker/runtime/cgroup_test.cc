#include "worker/runtime/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

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

  CgroupDriverPtr driver() {
    auto d = make_cgroup_v2_driver(root_);
    EXPECT_TRUE(d.ok()) << d.error().what();
    return d ? std::move(*d) : nullptr;
  }

  std::string root_;
};

// Detection picks v2 for a directory laid out like a cgroup2 mount.
TEST_F(CgroupV2Fake, DetectPicksV2) {
  auto d = detect_cgroup_driver(root_);
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ((*d)->version(), "v2");
}

// Detection refuses a directory that is neither v1 nor v2, naming it.
TEST_F(CgroupV2Fake, DetectRefusesPlainDirectory) {
  ASSERT_TRUE(fs::make_dirs(root_ + "/plain").ok());
  auto d = detect_cgroup_driver(root_ + "/plain");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message().find(root_ + "/plain"), std::string::npos) << d.error().what();
}

// create makes the directories and enables memory, pids and cpu in every ancestor, not the leaf.
TEST_F(CgroupV2Fake, CreateEnablesControllersDownThePath) {
  auto d = driver();
  ASSERT_TRUE(d);
  auto cg = d->create("tarmac/x");
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  EXPECT_EQ((*cg)->paths(), std::vector<std::string>{root_ + "/tarmac/x"});
  EXPECT_TRUE(fs::exists(root_ + "/tarmac/x"));
  EXPECT_EQ(read(root_ + "/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_EQ(read(root_ + "/tarmac/cgroup.subtree_control"), "+memory +pids +cpu");
  EXPECT_FALSE(fs::exists(root_ + "/tarmac/x/cgroup.subtree_control"));
}

// Controllers already on (as the kernel shows them, without '+') are not written again.
TEST_F(CgroupV2Fake, CreateLeavesEnabledControllers) {
  ASSERT_TRUE(fs::write_file(root_ + "/cgroup.subtree_control", "cpu io memory pids\n").ok());
  auto d = driver();
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->create("x").ok());
  EXPECT_EQ(read(root_ + "/cgroup.subtree_control"), "cpu io memory pids\n");
}

// A controller the host lacks is skipped by create and fails only the limit that needs it;
// "cpuset" is not taken for "cpu".
TEST_F(CgroupV2Fake, MissingControllerFailsOnlyItsLimit) {
  ASSERT_TRUE(fs::write_file(root_ + "/cgroup.controllers", "cpuset io memory pids\n").ok());
  auto d = driver();
  ASSERT_TRUE(d);
  auto cg = d->create("tarmac/x");
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  EXPECT_EQ(read(root_ + "/cgroup.subtree_control"), "+memory +pids");
  CgroupLimits l;
  l.memory_bytes = 1 << 20;
  l.pids_max = 8;
  EXPECT_TRUE((*cg)->apply(l).ok());
  l.cpu_shares = 512;
  auto s = (*cg)->apply(l);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("cpu controller"), std::string::npos) << s.error().what();
  EXPECT_NE(s.error().message().find(root_ + "/tarmac/x"), std::string::npos);
  EXPECT_FALSE(fs::exists(root_ + "/tarmac/x/cpu.weight"));
}

// apply writes memory.max with swap off, pids.max, and cpu.weight by runc's conversion.
TEST_F(CgroupV2Fake, ApplyWritesLimits) {
  auto d = driver();
  ASSERT_TRUE(d);
  auto cg = d->create("tarmac/x");
  ASSERT_TRUE(cg.ok()) << cg.error().what();
  std::string dir = root_ + "/tarmac/x/";
  CgroupLimits l;
  l.memory_bytes = 64 << 20;
  l.pids_max = 32;
  l.cpu_shares = 1024;
  auto s = (*cg)->apply(l);
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(read(dir + "memory.max"), "67108864");
  EXPECT_EQ(read(dir + "memory.swap.max"), "0");
  EXPECT_EQ(read(dir + "pids.max"), "32");
  EXPECT_EQ(read(dir + "cpu.weight"), "39");
  for (auto [shares, weight] : {std::pair{2, "1"}, std::pair{262144, "10000"}}) {
    l = {};
    l.cpu_shares = shares;
    ASSERT_TRUE((*cg)->apply(l).ok());
    EXPECT_EQ(read(dir + "cpu.weight"), weight) << shares;
  }
}

// oom_kills reads the oom_kill line of memory.events, not oom.
TEST_F(CgroupV2Fake, OomKillsFromMemoryEvents) {
  auto d = driver();
  ASSERT_TRUE(d);
  auto cg = d->create("c");
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE(fs::write_file(root_ + "/c/memory.events",
                             "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 0\n")
                  .ok());
  auto kills = (*cg)->oom_kills();
  ASSERT_TRUE(kills.ok()) << kills.error().what();
  EXPECT_EQ(*kills, 2u);
}

// open finds what create made, fails naming the path of a missing cgroup, and refuses names
// that could reach a cgroup outside the container's before any access.
TEST_F(CgroupV2Fake, Open) {
  auto d = driver();
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->create("tarmac/x").ok());
  auto found = d->open("tarmac/x");
  ASSERT_TRUE(found.ok()) << found.error().what();
  EXPECT_EQ((*found)->paths(), std::vector<std::string>{root_ + "/tarmac/x"});
  auto missing = d->open("tarmac/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(root_ + "/tarmac/nope"), std::string::npos);
  EXPECT_EQ(missing.error().errnum(), ENOENT);
  for (const char* bad : {"", "/abs", "a/../..", "..", "a//b", "a/"})
    EXPECT_FALSE(d->open(bad).ok()) << bad;
}

// A child that waits until the parent has added it to `cg`, then exits with fn()'s result.
// If adding fails the child exits at once, so it never runs outside the cgroup.
pid_t spawn_in(Cgroup& cg, const std::function<int()>& fn) {
  int p[2];
  if (::pipe(p) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    char c;
    ::close(p[1]);
    if (::read(p[0], &c, 1) != 1) ::_exit(99);
    ::_exit(fn());
  }
  ::close(p[0]);
  auto added = cg.add_process(pid);
  EXPECT_TRUE(added.ok()) << added.error().what();
  if (added) {
    EXPECT_EQ(::write(p[1], "g", 1), 1);
  }
  ::close(p[1]);
  return pid;
}

// Holds a real test cgroup `tarmac-test-<pid>/<leaf>` and removes it, its parents and its
// processes even when an assertion failed.
class CgroupRealTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!cg_ && driver_ && !leaf_.empty()) {
      // create failed midway: whatever it made still opens.
      auto cg = driver_->open(parent_ + "/" + leaf_);
      if (cg) cg_ = std::move(*cg);
    }
    if (cg_) (void)cg_->kill_all();
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (cg_) (void)cg_->destroy();
    for (const std::string& dir : parent_dirs_) ::rmdir(dir.c_str());
  }

  // Creates `parent_/leaf` under `driver_`.
  void create(const std::string& leaf) {
    leaf_ = leaf;
    auto cg = driver_->create(parent_ + "/" + leaf);
    ASSERT_TRUE(cg.ok()) << cg.error().what();
    cg_ = std::move(*cg);
  }

  pid_t spawn(const std::function<int()>& fn) {
    pid_t pid = spawn_in(*cg_, fn);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  // waitpid, and the child is no longer TearDown's to reap.
  int reap(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    std::erase(children_, pid);
    return status;
  }

  CgroupDriverPtr driver_;
  CgroupPtr cg_;
  std::string parent_ = "tarmac-test-" + std::to_string(::getpid());
  std::vector<pid_t> children_;
  std::string leaf_;
  std::vector<std::string> parent_dirs_;  // for TearDown to remove
};

// A real cgroup2 mount: membership and cgroup.kill. Hosts with v1 controllers often still
// mount an (empty) cgroup2 at /sys/fs/cgroup/unified, enough for this part of the driver.
class CgroupV2Real : public CgroupRealTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    root_ = fs::exists("/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup"
                                                            : "/sys/fs/cgroup/unified";
    if (!fs::exists(root_ + "/cgroup.controllers")) GTEST_SKIP() << "no cgroup2 mount here";
    auto d = make_cgroup_v2_driver(root_);
    ASSERT_TRUE(d.ok()) << d.error().what();
    driver_ = std::move(*d);
    parent_dirs_ = {root_ + "/" + parent_};
  }
  std::string root_;
};

// A process added is listed, kill_all (cgroup.kill) ends it, destroy removes the directory.
TEST_F(CgroupV2Real, MembershipAndCgroupKill) {
  ASSERT_NO_FATAL_FAILURE(create("c"));
  pid_t pid = spawn([] { return ::pause(); });
  auto pids = cg_->processes();
  ASSERT_TRUE(pids.ok()) << pids.error().what();
  EXPECT_EQ(*pids, std::vector<pid_t>{pid});
  auto killed = cg_->kill_all();
  ASSERT_TRUE(killed.ok()) << killed.error().what();
  int status = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  auto destroyed = cg_->destroy();
  ASSERT_TRUE(destroyed.ok()) << destroyed.error().what();
  EXPECT_FALSE(fs::exists(root_ + "/" + parent_ + "/c"));
}

// The development host, cgroup v1: limits, membership, OOM kills, device rules, kill_all.
class CgroupV1Real : public CgroupRealTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    if (!fs::exists("/sys/fs/cgroup/memory/cgroup.procs"))
      GTEST_SKIP() << "no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory";
    auto d = make_cgroup_v1_driver("/sys/fs/cgroup");
    ASSERT_TRUE(d.ok()) << d.error().what();
    driver_ = std::move(*d);
    for (const char* h : {"memory", "pids", "cpu", "freezer", "devices"})
      parent_dirs_.push_back("/sys/fs/cgroup/" + std::string(h) + "/" + parent_);
  }
  std::string dir(const std::string& hierarchy, const std::string& leaf) {
    return "/sys/fs/cgroup/" + hierarchy + "/" + parent_ + "/" + leaf + "/";
  }
};

// Detection picks v1 on a host whose controllers are on v1 hierarchies, even with an empty
// cgroup2 mounted below /sys/fs/cgroup.
TEST_F(CgroupV1Real, DetectPicksV1) {
  auto d = detect_cgroup_driver("/sys/fs/cgroup");
  ASSERT_TRUE(d.ok()) << d.error().what();
  EXPECT_EQ((*d)->version(), "v1");
}

// Limits land in the kernel's files: memory with memsw equal (swap off), pids, shares.
TEST_F(CgroupV1Real, ApplyLimits) {
  ASSERT_NO_FATAL_FAILURE(create("x"));
  CgroupLimits l;
  l.memory_bytes = 64 << 20;
  l.pids_max = 32;
  l.cpu_shares = 512;
  auto s = cg_->apply(l);
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(read(dir("memory", "x") + "memory.limit_in_bytes"), "67108864\n");
  if (fs::exists(dir("memory", "x") + "memory.memsw.limit_in_bytes")) {
    EXPECT_EQ(read(dir("memory", "x") + "memory.memsw.limit_in_bytes"), "67108864\n");
  }
  EXPECT_EQ(read(dir("pids", "x") + "pids.max"), "32\n");
  EXPECT_EQ(read(dir("cpu", "x") + "cpu.shares"), "512\n");
}

// A memory limit can be raised as well as lowered (the kernel wants memsw raised first).
TEST_F(CgroupV1Real, RaiseMemoryLimit) {
  ASSERT_NO_FATAL_FAILURE(create("x"));
  CgroupLimits l;
  l.memory_bytes = 32 << 20;
  ASSERT_TRUE(cg_->apply(l).ok());
  l.memory_bytes = 64 << 20;
  auto s = cg_->apply(l);
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(read(dir("memory", "x") + "memory.limit_in_bytes"), "67108864\n");
}

// A process added is listed in every hierarchy, and kill_all ends it.
TEST_F(CgroupV1Real, MembershipAndKillAll) {
  ASSERT_NO_FATAL_FAILURE(create("x"));
  pid_t pid = spawn([] { return ::pause(); });
  auto pids = cg_->processes();
  ASSERT_TRUE(pids.ok()) << pids.error().what();
  EXPECT_EQ(*pids, std::vector<pid_t>{pid});
  for (const std::string& path : cg_->paths())
    EXPECT_EQ(read(path + "/cgroup.procs"), std::to_string(pid) + "\n") << path;
  auto killed = cg_->kill_all();
  ASSERT_TRUE(killed.ok()) << killed.error().what();
  int status = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_EQ(read(dir("freezer", "x") + "freezer.state"), "THAWED\n");
}

// kill_all ends a tree that keeps forking, not only the process that was added.
TEST_F(CgroupV1Real, KillAllEndsForkingTree) {
  ASSERT_NO_FATAL_FAILURE(create("x"));
  CgroupLimits l;
  l.pids_max = 64;  // bounds the tree if kill_all never comes
  ASSERT_TRUE(cg_->apply(l).ok());
  pid_t pid = spawn([] {
    for (;;) {
      if (::fork() == 0) ::pause();
      ::usleep(1000);
    }
    return 0;
  });
  // Some grandchildren first; bounded, in case forking fails.
  for (int i = 0; i < 5000; ++i) {
    auto pids = cg_->processes();
    if (!pids || pids->size() >= 4) break;
    ::usleep(1000);
  }
  auto killed = cg_->kill_all();
  ASSERT_TRUE(killed.ok()) << killed.error().what();
  int status = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  auto left = cg_->processes();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
}

// Allocating past the memory limit ends in an OOM kill that oom_kills() counts.
TEST_F(CgroupV1Real, OomKillCounted) {
  ASSERT_NO_FATAL_FAILURE(create("x"));
  CgroupLimits l;
  l.memory_bytes = 32 << 20;
  ASSERT_TRUE(cg_->apply(l).ok());
  auto before = cg_->oom_kills();
  ASSERT_TRUE(before.ok()) << before.error().what();
  EXPECT_EQ(*before, 0u);
  pid_t pid = spawn([] {
    for (;;) {
      // volatile: the pages must really be touched, not optimized away.
      volatile char* p = static_cast<char*>(std::malloc(1 << 20));
      for (int i = 0; p && i < (1 << 20); i += 4096) p[i] = 1;
    }
    return 0;
  });
  int status = reap(pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  auto after = cg_->oom_kills();
  ASSERT_TRUE(after.ok()) << after.error().what();
  EXPECT_GE(*after, 1u);
}

// restrict_devices: /dev/null opens in the cgroup, another character device (kmsg) does not.
TEST_F(CgroupV1Real, DeviceRules) {
  if (!fs::exists("/sys/fs/cgroup/devices/cgroup.procs")) GTEST_SKIP() << "no devices hierarchy";
  ASSERT_NO_FATAL_FAILURE(create("x"));
  CgroupLimits l;
  l.restrict_devices = true;
  auto s = cg_->apply(l);
  ASSERT_TRUE(s.ok()) << s.error().what();
  auto tmp = fs::make_temp_dir("tarmac-devnode");
  ASSERT_TRUE(tmp.ok());
  std::string node = *tmp + "/kmsg";
  ASSERT_EQ(::mknod(node.c_str(), S_IFCHR | 0600, makedev(1, 11)), 0) << std::strerror(errno);
  // Outside the cgroup the node opens, so a refusal inside is the cgroup's doing.
  int outside = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(outside, 0) << std::strerror(errno);
  if (outside >= 0) ::close(outside);
  pid_t pid = spawn([&node] {
    bool null_opens = ::open("/dev/null", O_RDWR) >= 0;
    bool kmsg_refused = ::open(node.c_str(), O_RDONLY) < 0 && errno == EPERM;
    return (null_opens ? 0 : 1) | (kmsg_refused ? 0 : 2);
  });
  int status = reap(pid);
  (void)fs::remove_all(*tmp);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status) & 1, 0) << "/dev/null did not open";
  EXPECT_EQ(WEXITSTATUS(status) & 2, 0) << node << " was not refused with EPERM";
}

// destroy removes the directory in every hierarchy, a second destroy is fine, and open then
// fails naming the path.
TEST_F(CgroupV1Real, DestroyRemovesEveryDirectory) {
  ASSERT_NO_FATAL_FAILURE(create("x"));
  std::vector<std::string> paths = cg_->paths();
  EXPECT_GE(paths.size(), 2u);  // memory and pids at least
  for (const std::string& p : paths) EXPECT_TRUE(fs::exists(p)) << p;
  auto s = cg_->destroy();
  ASSERT_TRUE(s.ok()) << s.error().what();
  for (const std::string& p : paths) EXPECT_FALSE(fs::exists(p)) << p;
  EXPECT_TRUE(cg_->destroy().ok());
  auto gone = driver_->open(parent_ + "/x");
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().message().find(parent_ + "/x"), std::string::npos);
}

}  // namespace
}  // namespace tarmac::runtime
