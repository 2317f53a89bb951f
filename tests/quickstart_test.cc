// `tarmac quickstart` end to end: a private PostgreSQL, a web node and a worker in one
// process; fly logs in with the printed password and runs a task in the bundled image; a
// restart keeps the keys, the password and the database.
#include <signal.h>

#include "baggageclaim/mounts.h"
#include "common/fs.h"
#include "tests/server_process.h"
#include "tests/testutil.h"

#include <gtest/gtest.h>

namespace tarmac::testing {
namespace {

class QuickstartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root (containers, and PostgreSQL as its own user)";
    ::chmod(dir_.path().c_str(), 0711);
  }
  void TearDown() override {
    if (quickstart_)
      quickstart_->expect_not_died("tarmac quickstart", dir_.path() + "/quickstart.log");
    quickstart_.reset();
    kill_cgroup_members(cgroup());
    EXPECT_TRUE(baggageclaim::unmount_under(dir_.path()).ok());
    remove_cgroup_parent(cgroup());
  }
  std::string cgroup() const { return "tarmac-qtest-" + std::to_string(::getpid()); }

  // Starts the quickstart; its admin password from the printed fly command.
  std::string start() {
    quickstart_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{bin_dir() + "/tarmac", "quickstart", "--work-dir",
                                 dir_.path() + "/qs", "--bind-port", "0", "--cgroup-parent",
                                 cgroup()},
        dir_.path() + "/quickstart.log");
    std::string err = quickstart_->start();
    EXPECT_EQ(err, "") << log();
    for (const auto& line : quickstart_->preamble())
      if (auto at = line.find(" -p "); at != std::string::npos) return line.substr(at + 4);
    ADD_FAILURE() << "no password printed: " << log();
    return "";
  }
  std::string log() const {
    auto t = fs::read_file(dir_.path() + "/quickstart.log");
    return t ? *t : "";
  }
  int fly(const std::string& args, std::string* out) {
    return run_host("FLYRC=" + dir_.path() + "/flyrc " + bin_dir() + "/fly " + args + " 2>&1", out);
  }

  TempDir dir_{"tarmac-quickstart"};
  std::unique_ptr<ServerProcess> quickstart_;
};

TEST_F(QuickstartTest, LoginAndExecuteThenRestart) {
  std::string password = start();
  ASSERT_FALSE(password.empty());
  std::string url = "http://127.0.0.1:" + std::to_string(quickstart_->port());
  std::string out;
  ASSERT_EQ(fly("-t qs login -c " + url + " -u admin -p " + password, &out), 0) << out;
  std::string task = dir_.path() + "/task.yml";
  ASSERT_TRUE(fs::write_file(task, "platform: linux\nrootfs_uri: raw://" + dir_.path() +
                                       "/qs/images/busybox\nrun: {path: sh, args: [-c, 'echo "
                                       "hi from quickstart; exit 4']}\n")
                  .ok());
  EXPECT_EQ(fly("-t qs execute -c " + task, &out), 1) << out << log();
  EXPECT_NE(out.find("hi from quickstart\nfailed\n"), std::string::npos) << out;
  ASSERT_EQ(fly("-t qs builds", &out), 0);
  EXPECT_NE(out.find("failed"), std::string::npos) << out;

  // Restarted: the same password, the builds still there, a worker again.
  quickstart_->stop(SIGTERM);
  std::string again = start();
  EXPECT_EQ(again, password);
  url = "http://127.0.0.1:" + std::to_string(quickstart_->port());
  ASSERT_EQ(fly("-t qs login -c " + url + " -u admin -p " + password, &out), 0) << out;
  ASSERT_EQ(fly("-t qs builds", &out), 0);
  EXPECT_NE(out.find("failed"), std::string::npos) << out;
  EXPECT_EQ(fly("-t qs execute -c " + task, &out), 1) << out << log();
}

}  // namespace
}  // namespace tarmac::testing
