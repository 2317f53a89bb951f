#include "worker/bpm/paths.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace tarmac::bpm {
namespace {

// Sets or unsets $BPM_BOSH_ROOT for one test and puts the old value back.
class ScopedBoshRoot {
 public:
  explicit ScopedBoshRoot(const char* value) {
    if (const char* old = std::getenv("BPM_BOSH_ROOT")) old_ = old;
    if (value) {
      ::setenv("BPM_BOSH_ROOT", value, 1);
    } else {
      ::unsetenv("BPM_BOSH_ROOT");
    }
  }
  ~ScopedBoshRoot() {
    if (old_) {
      ::setenv("BPM_BOSH_ROOT", old_->c_str(), 1);
    } else {
      ::unsetenv("BPM_BOSH_ROOT");
    }
  }

 private:
  std::optional<std::string> old_;
};

// The layout under /var/vcap is bpm's, path for path.
TEST(BpmPaths, DefaultLayout) {
  BoshPaths p("/var/vcap");
  EXPECT_EQ(p.root(), "/var/vcap");
  EXPECT_EQ(p.jobs_dir(), "/var/vcap/jobs");
  EXPECT_EQ(p.job_dir("web"), "/var/vcap/jobs/web");
  EXPECT_EQ(p.job_config("web"), "/var/vcap/jobs/web/config/bpm.yml");
  EXPECT_EQ(p.packages_dir(), "/var/vcap/packages");
  EXPECT_EQ(p.data_packages_dir(), "/var/vcap/data/packages");
  EXPECT_EQ(p.data_dir("web"), "/var/vcap/data/web");
  EXPECT_EQ(p.store_dir("web"), "/var/vcap/store/web");
  EXPECT_EQ(p.tmp_dir("web"), "/var/vcap/data/web/tmp");
  EXPECT_EQ(p.log_dir("web"), "/var/vcap/sys/log/web");
  EXPECT_EQ(p.run_dir("web"), "/var/vcap/sys/run/web");
  EXPECT_EQ(p.stdout_log("web", "worker"), "/var/vcap/sys/log/web/worker.stdout.log");
  EXPECT_EQ(p.stderr_log("web", "worker"), "/var/vcap/sys/log/web/worker.stderr.log");
  EXPECT_EQ(p.bpm_log("web"), "/var/vcap/sys/log/web/bpm.log");
  EXPECT_EQ(p.pid_dir("web"), "/var/vcap/sys/run/bpm/web");
  EXPECT_EQ(p.pid_file("web", "worker"), "/var/vcap/sys/run/bpm/web/worker.pid");
  EXPECT_EQ(p.locks_dir(), "/var/vcap/data/bpm/locks");
  EXPECT_EQ(p.runtime_dir(), "/var/vcap/sys/run/bpm-runtime");
  EXPECT_EQ(p.bundle_dir("web", "worker"), "/var/vcap/data/bpm/bundles/web/worker");
  EXPECT_EQ(p.rootfs_dir("web", "worker"), "/var/vcap/data/bpm/bundles/web/worker/rootfs");
  EXPECT_EQ(p.cgroup_parent(), "bpm");
}

// Another root moves every path with it.
TEST(BpmPaths, OtherRoot) {
  BoshPaths p("/tmp/root");
  EXPECT_EQ(p.job_config("j"), "/tmp/root/jobs/j/config/bpm.yml");
  EXPECT_EQ(p.pid_file("j", "p"), "/tmp/root/sys/run/bpm/j/p.pid");
  EXPECT_EQ(p.stdout_log("j", "p"), "/tmp/root/sys/log/j/p.stdout.log");
  EXPECT_EQ(p.tmp_dir("j"), "/tmp/root/data/j/tmp");
  EXPECT_EQ(p.lock_file("j", "p"), "/tmp/root/data/bpm/locks/job-bpm-j.2ep.lock");
  EXPECT_EQ(p.rootfs_dir("j", "p"), "/tmp/root/data/bpm/bundles/j/p/rootfs");
  EXPECT_EQ(p.cgroup_parent(), "bpm-root");
  EXPECT_EQ(BoshPaths("/tmp/bpm test.1").cgroup_parent(), "bpm-bpm.20test.2e1");
}

// The root is cleaned, so a trailing slash or a "." cannot change a path.
TEST(BpmPaths, RootIsCleaned) {
  EXPECT_EQ(BoshPaths("/tmp/root/").root(), "/tmp/root");
  EXPECT_EQ(BoshPaths("/tmp//./root").data_dir("j"), "/tmp/root/data/j");
  EXPECT_EQ(BoshPaths("/var/vcap/").cgroup_parent(), "bpm");
}

// $BPM_BOSH_ROOT replaces /var/vcap when set and not empty, as in bpm.
TEST(BpmPaths, FromEnv) {
  {
    ScopedBoshRoot env(nullptr);
    EXPECT_EQ(BoshPaths::from_env().root(), "/var/vcap");
  }
  {
    ScopedBoshRoot env("");
    EXPECT_EQ(BoshPaths::from_env().root(), "/var/vcap");
  }
  {
    ScopedBoshRoot env("/tmp/bosh-root/");
    EXPECT_EQ(BoshPaths::from_env().root(), "/tmp/bosh-root");
    EXPECT_EQ(BoshPaths::from_env().pid_dir("j"), "/tmp/bosh-root/sys/run/bpm/j");
  }
}

// A host path under the root is seen by the process under /var/vcap; others are unchanged.
TEST(BpmPaths, Inside) {
  BoshPaths p("/tmp/root");
  EXPECT_EQ(p.inside("/tmp/root"), "/var/vcap");
  EXPECT_EQ(p.inside("/tmp/root/data/j"), "/var/vcap/data/j");
  EXPECT_EQ(p.inside("/tmp/rootx/data"), "/tmp/rootx/data");
  EXPECT_EQ(p.inside("/etc"), "/etc");
  EXPECT_EQ(BoshPaths("/var/vcap").inside("/var/vcap/jobs/j"), "/var/vcap/jobs/j");
}

// The lock is named after "JOB.PROC" even for the job's lone process, as bpm's hostlock.
TEST(BpmPaths, LockFileNaming) {
  BoshPaths p("/var/vcap");
  EXPECT_EQ(p.lock_file("web", "web"), "/var/vcap/data/bpm/locks/job-bpm-web.2eweb.lock");
  EXPECT_EQ(p.lock_file("web", "worker"), "/var/vcap/data/bpm/locks/job-bpm-web.2eworker.lock");
  EXPECT_EQ(p.lock_file("a b", "c/d"), "/var/vcap/data/bpm/locks/job-bpm-a.20b.2ec.2fd.lock");
}

// Container ids are bpm's, from its own encoding table.
TEST(BpmContainerId, Encoding) {
  EXPECT_EQ(container_id("test-server", "test-server"), "bpm-test-server");
  EXPECT_EQ(container_id("test-server", "alt-test-server"), "bpm-test-server.2ealt-test-server");
  EXPECT_EQ(container_id("test-server!@*&", "test-server!@*&"), "bpm-test-server.21.40.2a.26");
  EXPECT_EQ(container_id("test_server", "test_server"), "bpm-test_server");
  EXPECT_EQ(container_id("", ""), "bpm-");
  EXPECT_EQ(container_id("_", "_"), "bpm-_");
  EXPECT_EQ(container_id("j.k", "j.k"), "bpm-j.2ek");
  EXPECT_EQ(container_id("caf\xc3\xa9", "caf\xc3\xa9"), "bpm-caf.c3.a9");
  EXPECT_EQ(container_id(std::string("a\0b", 3), std::string("a\0b", 3)), "bpm-a.00b");
}

// Decoding inverts the encoding, upper-case hex included.
TEST(BpmContainerId, Decoding) {
  EXPECT_EQ(*decode_container_id("bpm-"), "");
  EXPECT_EQ(*decode_container_id("bpm-test-server"), "test-server");
  EXPECT_EQ(*decode_container_id("bpm-test-server.2ealt-test-server"),
            "test-server.alt-test-server");
  EXPECT_EQ(*decode_container_id("bpm-test-server.21.40.2a.26"), "test-server!@*&");
  EXPECT_EQ(*decode_container_id("bpm-test_server"), "test_server");
  EXPECT_EQ(*decode_container_id("bpm-a.2Eb"), "a.b");
}

// Ids without the prefix or with a cut or non-hex escape are refused, naming the id.
TEST(BpmContainerId, InvalidIds) {
  const std::pair<const char*, const char*> cases[] = {
      {"unknown", "invalid job ID (missing prefix): \"unknown\""},
      {"bpm", "invalid job ID (missing prefix): \"bpm\""},
      {"BPM-web", "invalid job ID (missing prefix): \"BPM-web\""},
      {"bpm-.", "invalid job ID (incomplete escape sequence): \"bpm-.\""},
      {"bpm-web.2", "invalid job ID (incomplete escape sequence): \"bpm-web.2\""},
      {"bpm-web.zz", "invalid job ID (incomplete escape sequence): \"bpm-web.zz\""},
  };
  for (const auto& [id, message] : cases) {
    auto name = decode_container_id(id);
    ASSERT_FALSE(name.ok()) << id;
    EXPECT_EQ(name.error().message(), message);
  }
}

// Every byte survives the round trip and the id stays within runc's [A-Za-z0-9_.-].
TEST(BpmContainerId, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (const std::string& name : {all, std::string("web"), std::string("a.b.c")}) {
    std::string id = container_id(name, name);
    for (char c : id)
      EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')
          << "byte " << static_cast<int>(static_cast<unsigned char>(c)) << " in " << id;
    auto back = decode_container_id(id);
    ASSERT_TRUE(back.ok()) << back.error().what();
    EXPECT_EQ(*back, name);
  }
  EXPECT_EQ(*decode_container_id(container_id("web", "worker")), "web.worker");
}

// clean_path matches Go's filepath.Clean, which bpm's canonical-path rule compares with.
TEST(BpmCleanPath, LikeGo) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "."},
      {"/", "/"},
      {"//", "/"},
      {"/..", "/"},
      {"/../a", "/a"},
      {".", "."},
      {"./", "."},
      {"..", ".."},
      {"../..", "../.."},
      {"a/../..", ".."},
      {"a/b/../c", "a/c"},
      {"/var/vcap/data/x/", "/var/vcap/data/x"},
      {"/var/vcap//data/x", "/var/vcap/data/x"},
      {"/var/vcap/./data", "/var/vcap/data"},
      {"/var/vcap/data/../../etc", "/var/etc"},
      {"/var/vcap/../../../../etc", "/etc"},
      {"/var/vcap/data/x", "/var/vcap/data/x"},
      {"abc/./def/", "abc/def"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(clean_path(in), out) << in;
}

}  // namespace
}  // namespace tarmac::bpm
