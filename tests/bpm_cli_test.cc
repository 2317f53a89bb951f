// The bpm binary end to end: real containers under a temporary BOSH root.
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "common/fs.h"
#include "tests/testutil.h"
#include "worker/bpm/paths.h"

namespace tarmac::testing {
namespace {

struct Output {
  int code = -1;
  std::string out;
  std::string err;
};

class BpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: bpm refuses to run as another user";
    if (run_host("id vcap >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "no vcap user on this host (scripts/setup.sh creates it)";
    for (const char* d : {"/jobs", "/packages", "/data/packages", "/store"})
      ASSERT_TRUE(fs::make_dirs(root_.path() + d).ok());
    ::chmod(root_.path().c_str(), 0755);
  }

  void TearDown() override {
    if (root_.path().empty()) return;
    // Whatever a test left running goes; then nothing of bpm may remain.
    auto jobs = fs::list_dir(root_.path() + "/jobs");
    for (const std::string& job : jobs ? *jobs : std::vector<std::string>())
      for (const std::string& p : processes_[job]) bpm({"stop", job, "-p", p});
    auto runtime_dir = fs::list_dir(root_.path() + "/sys/run/bpm-runtime");
    EXPECT_TRUE(!runtime_dir || runtime_dir->empty()) << "container state left behind";
    EXPECT_TRUE(mounts_under(root_.path()).empty());
    std::string parent = bpm::BoshPaths(root_.path()).cgroup_parent();
    remove_cgroup_parent(parent);
    EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + parent)) << "cgroup left behind";
  }

  // Writes jobs/JOB/config/bpm.yml and executable scripts under jobs/JOB/bin.
  void job(const std::string& name, const std::string& yml,
           const std::map<std::string, std::string>& scripts,
           const std::vector<std::string>& processes = {}) {
    std::string dir = root_.path() + "/jobs/" + name;
    ASSERT_TRUE(fs::make_dirs(dir + "/config").ok());
    ASSERT_TRUE(fs::make_dirs(dir + "/bin").ok());
    ASSERT_TRUE(fs::write_file(dir + "/config/bpm.yml", yml).ok());
    for (const auto& [file, body] : scripts) {
      ASSERT_TRUE(fs::write_file(dir + "/bin/" + file, "#!/bin/sh\n" + body).ok());
      ::chmod((dir + "/bin/" + file).c_str(), 0755);
    }
    processes_[name] = processes.empty() ? std::vector<std::string>{name} : processes;
  }

  Output bpm(const std::vector<std::string>& args) {
    std::string cmd = "BPM_BOSH_ROOT=" + root_.path() + " " + bin_dir() + "/bpm";
    for (const std::string& a : args) cmd += " '" + a + "'";
    TempDir errs("tarmac-bpm-err");
    Output o;
    o.code = run_host(cmd + " 2>" + errs.path() + "/err", &o.out);
    auto e = fs::read_file(errs.path() + "/err");
    o.err = e ? *e : "";
    return o;
  }

  std::string path(const std::string& rel) const { return root_.path() + rel; }

  TempDir root_{"tarmac-bosh"};
  std::map<std::string, std::vector<std::string>> processes_;
};

// bpm run passes the process's exit code through and writes its output to the logs too.
TEST_F(BpmTest, RunPassesExitCodeAndLogs) {
  job("errand", "processes:\n- name: errand\n  executable: /var/vcap/jobs/errand/bin/run\n",
      {{"run", "echo out-line; echo err-line >&2; exit 6\n"}});
  Output o = bpm({"run", "errand"});
  EXPECT_EQ(o.code, 6) << o.err;
  EXPECT_EQ(o.out, "out-line\n");
  EXPECT_NE(o.err.find("err-line"), std::string::npos);
  EXPECT_EQ(*fs::read_file(path("/sys/log/errand/errand.stdout.log")), "out-line\n");
  EXPECT_EQ(*fs::read_file(path("/sys/log/errand/errand.stderr.log")), "err-line\n");
}

// bpm run -e and -v reach the process.
TEST_F(BpmTest, RunEnvAndVolumeFlags) {
  job("flags", "processes:\n- name: flags\n  executable: /var/vcap/jobs/flags/bin/run\n",
      {{"run", "echo \"$GREETING\"; echo written > \"$DEST/f\"\n"}});
  // As bpm's, volumes are host paths under the BOSH root, mounted at the same path.
  std::string shared = path("/data/shared");
  Output o = bpm({"run", "flags", "-e", "GREETING=hi there", "-e", "DEST=" + shared, "-v",
                  shared + ":writable"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "hi there\n");
  EXPECT_EQ(*fs::read_file(path("/data/shared/f")), "written\n");
  Output bad = bpm({"run", "flags", "-v", "/etc:writable"});
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.err.find("/etc"), std::string::npos) << bad.err;
}

// A `shared` volume (bpm's additional_volumes[].shared): bpm makes it a shared mount point
// on the host under its volume lock, and a mount one job makes under it is seen by the host
// and by another job. bpm leaves it mounted (its docs leave that to post-stop), so the test
// unmounts.
TEST_F(BpmTest, SharedVolumeMountsReachTheHostAndOtherJobs) {
  std::string vol = path("/data/exchange");
  ASSERT_TRUE(fs::make_dirs(vol).ok());
  job("mounter",
      "processes:\n- name: mounter\n  executable: /var/vcap/jobs/mounter/bin/run\n"
      "  additional_volumes:\n  - path: " +
          vol +
          "\n    writable: true\n    shared: true\n"
          "  unsafe:\n    privileged: true\n",
      {{"run", "mkdir -p " + vol + "/inner && mount -t tmpfs from-job " + vol +
                   "/inner && echo made-inside > " + vol + "/inner/f && exec sleep 1000\n"}});
  job("reader",
      "processes:\n- name: reader\n  executable: /var/vcap/jobs/reader/bin/run\n"
      "  additional_volumes:\n  - path: " +
          vol + "\n    shared: true\n",
      {{"run", "cat " + vol + "/inner/f\n"}});
  Output started = bpm({"start", "mounter"});
  ASSERT_EQ(started.code, 0) << started.err;
  bool seen = false;
  for (int i = 0; i < 250 && !seen; ++i) {
    seen = fs::exists(vol + "/inner/f");
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(seen) << "the job's mount never reached the host";
  Output read = bpm({"run", "reader"});
  EXPECT_EQ(read.code, 0) << read.err;
  EXPECT_EQ(read.out, "made-inside\n");
  // bpm's lock for the volume: vol-<sha256 of the path>.lock.
  auto locks = fs::list_dir(path("/data/bpm/locks"));
  ASSERT_TRUE(locks.ok());
  EXPECT_EQ(std::count_if(locks->begin(), locks->end(),
                          [](const std::string& n) {
                            return n.rfind("vol-", 0) == 0 && n.size() == 4 + 64 + 5;
                          }),
            1);
  EXPECT_EQ(bpm({"stop", "mounter"}).code, 0);
  for (const std::string& m : {vol + "/inner", vol}) ::umount2(m.c_str(), MNT_DETACH);
}

// Inside: vcap, its own pids, the defaults for env, no capabilities, read-only system dirs,
// its own job visible and another job's config not.
TEST_F(BpmTest, IsolationFromInside) {
  job("other", "processes:\n- name: other\n  executable: /bin/true\n", {});
  job("probe", "processes:\n- name: probe\n  executable: /var/vcap/jobs/probe/bin/run\n",
      {{"run",
        "id -un; echo \"$HOME $TMPDIR $LANG\"; grep CapEff /proc/self/status;"
        "n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n;"
        "cat /var/vcap/jobs/other/config/bpm.yml >/dev/null 2>&1 && echo other-visible;"
        "touch /usr/x 2>/dev/null && echo usr-writable;"
        "touch /var/vcap/jobs/probe/x 2>/dev/null && echo job-writable;"
        "touch /tmp/ok && echo tmp-writable;"
        "unshare -m true 2>/dev/null && echo unshare-allowed; exit 0\n"}});
  Output o = bpm({"run", "probe"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out,
            "vcap\n/var/vcap/data/probe /var/vcap/data/probe/tmp en_US.UTF-8\n"
            "CapEff:\t0000000000000000\n2\ntmp-writable\n");
}

// start twice is harmless; list and pid show the process; stop ends it and removes the pid
// file; list then says stopped.
TEST_F(BpmTest, StartListPidStop) {
  job("server", "processes:\n- name: server\n  executable: /var/vcap/jobs/server/bin/run\n",
      {{"run", "echo up; exec sleep 1000\n"}});
  ASSERT_EQ(bpm({"start", "server"}).code, 0);
  Output again = bpm({"start", "server"});
  EXPECT_EQ(again.code, 0) << again.err;
  Output pid = bpm({"pid", "server"});
  ASSERT_EQ(pid.code, 0) << pid.err;
  EXPECT_EQ(*fs::read_file(path("/sys/run/bpm/server/server.pid")), pid.out);
  Output list = bpm({"list"});
  EXPECT_NE(list.out.find("server " + pid.out.substr(0, pid.out.size() - 1) + " running"),
            std::string::npos)
      << list.out;
  ASSERT_EQ(bpm({"stop", "server"}).code, 0);
  EXPECT_FALSE(fs::exists(path("/sys/run/bpm/server/server.pid")));
  EXPECT_NE(bpm({"list"}).out.find("server -   stopped"), std::string::npos) << bpm({"list"}).out;
  EXPECT_NE(bpm({"pid", "server"}).code, 0);
}

// A process that ignores SIGTERM is ended by stop anyway (SIGQUIT, then SIGKILL).
TEST_F(BpmTest, StopKillsProcessIgnoringTerm) {
  job("stubborn", "processes:\n- name: stubborn\n  executable: /var/vcap/jobs/stubborn/bin/run\n",
      {{"run", "trap '' TERM QUIT; while :; do sleep 1; done\n"}});
  ASSERT_EQ(bpm({"start", "stubborn"}).code, 0);
  auto begin = std::chrono::steady_clock::now();
  Output o = bpm({"stop", "stubborn"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_NE(bpm({"list"}).out.find("stopped"), std::string::npos);
  // Generous bound: bpm's own sequence is 15 s + 2 s; this only catches a hang.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(60));
}

// A crashed process shows as failed, a new start replaces it, and stop leaves nothing.
TEST_F(BpmTest, CrashedProcessLeavesNothing) {
  job("crashy", "processes:\n- name: crashy\n  executable: /var/vcap/jobs/crashy/bin/run\n",
      {{"run", "kill -SEGV $$\n"}});
  ASSERT_EQ(bpm({"start", "crashy"}).code, 0);
  for (int i = 0; i < 100 && bpm({"list"}).out.find("failed") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(bpm({"list"}).out.find("crashy -   failed"), std::string::npos) << bpm({"list"}).out;
  EXPECT_EQ(bpm({"start", "crashy"}).code, 0);
  EXPECT_EQ(bpm({"stop", "crashy"}).code, 0);
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/memory/" + bpm::BoshPaths(root_.path()).cgroup_parent() +
                          "/bpm-crashy"));
}

// A memory limit from bpm.yml ends a greedy process with an OOM kill, reported by run.
TEST_F(BpmTest, MemoryLimitFromConfig) {
  job("greedy",
      "processes:\n- name: greedy\n  executable: /usr/bin/tail\n  args: [/dev/zero]\n"
      "  limits:\n    memory: 32M\n",
      {});
  Output o = bpm({"run", "greedy"});
  EXPECT_EQ(o.code, 128 + 9);
  EXPECT_NE(o.err.find("OOM"), std::string::npos) << o.err;
}

// A broken bpm.yml is refused, naming the field and line.
TEST_F(BpmTest, BrokenConfigNamesTheField) {
  job("broken",
      "processes:\n- name: broken\n  executable: /bin/true\n  limits:\n    memory: lots\n", {});
  Output o = bpm({"start", "broken"});
  EXPECT_NE(o.code, 0);
  EXPECT_NE(o.err.find("limits.memory"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find(":5"), std::string::npos) << o.err;
}

// The pre_start hook runs on the host, as root, before the process, with its environment.
TEST_F(BpmTest, PreStartHookRuns) {
  std::string marker = path("/hook-ran");
  job("hooked",
      "processes:\n- name: hooked\n  executable: /bin/true\n  env:\n    MARK: " + marker +
          "\n  hooks:\n    pre_start: " + path("/jobs/hooked/bin/pre") + "\n",
      {{"pre", "id -u > \"$MARK\"; echo hook-output\n"}});
  Output o = bpm({"run", "hooked"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(*fs::read_file(marker), "0\n");
  EXPECT_EQ(*fs::read_file(path("/sys/log/hooked/hooked.stdout.log")), "hook-output\n");
}

// An unknown process name is refused with bpm's message.
TEST_F(BpmTest, UnknownProcess) {
  job("one", "processes:\n- name: one\n  executable: /bin/true\n", {});
  Output o = bpm({"start", "one", "-p", "two"});
  EXPECT_NE(o.code, 0);
  EXPECT_NE(o.err.find("process \"two\" not present"), std::string::npos) << o.err;
}

// logs shows the last lines of stdout, -e of stderr, -a of both, -q without headers.
TEST_F(BpmTest, LogsFlags) {
  job("chatty", "processes:\n- name: chatty\n  executable: /var/vcap/jobs/chatty/bin/run\n",
      {{"run", "for i in 1 2 3; do echo out-$i; echo err-$i >&2; done\n"}});
  ASSERT_EQ(bpm({"run", "chatty"}).code, 0);
  EXPECT_EQ(bpm({"logs", "chatty", "-n", "2"}).out, "out-2\nout-3\n");
  EXPECT_EQ(bpm({"logs", "chatty", "-e", "-n", "1"}).out, "err-3\n");
  Output both = bpm({"logs", "chatty", "-a", "-n", "1"});
  EXPECT_NE(both.out.find("==> " + path("/sys/log/chatty/chatty.stdout.log")), std::string::npos)
      << both.out;
  EXPECT_NE(both.out.find("err-3"), std::string::npos);
  Output quiet = bpm({"logs", "chatty", "-a", "-q", "-n", "1"});
  EXPECT_EQ(quiet.out, "out-3\nerr-3\n");
  EXPECT_NE(bpm({"logs", "nosuchjob"}).code, 0);
}

// shell runs a shell inside the running process's container (its pid namespace, as vcap).
TEST_F(BpmTest, ShellJoinsTheContainer) {
  job("host", "processes:\n- name: host\n  executable: /var/vcap/jobs/host/bin/run\n",
      {{"run", "exec sleep 1000\n"}});
  ASSERT_EQ(bpm({"start", "host"}).code, 0);
  std::string out;
  int code = run_host("echo 'echo marker-$(id -un)-$(cat /proc/1/comm); exit 4' | BPM_BOSH_ROOT=" +
                          root_.path() + " " + bin_dir() + "/bpm shell host",
                      &out);
  EXPECT_EQ(code, 4);
  EXPECT_NE(out.find("marker-vcap-tarmac-init"), std::string::npos) << out;
  ASSERT_EQ(bpm({"stop", "host"}).code, 0);
  EXPECT_NE(bpm({"shell", "host"}).code, 0);
}

// trace attaches strace to the running process.
TEST_F(BpmTest, TraceAttaches) {
  if (run_host("command -v strace >/dev/null") != 0) GTEST_SKIP() << "strace not installed";
  job("traced", "processes:\n- name: traced\n  executable: /var/vcap/jobs/traced/bin/run\n",
      {{"run", "exec sleep 1000\n"}});
  ASSERT_EQ(bpm({"start", "traced"}).code, 0);
  std::string out;
  run_host(
      "BPM_BOSH_ROOT=" + root_.path() + " timeout -s INT 1 " + bin_dir() + "/bpm trace traced 2>&1",
      &out);
  EXPECT_NE(out.find("attached"), std::string::npos) << out;
  ASSERT_EQ(bpm({"stop", "traced"}).code, 0);
}

}  // namespace
}  // namespace tarmac::testing
