#include "atc/db/embedded_postgres.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::atc::db {
namespace {

// A port some other server holds for the whole test: what PostgreSQL finds when it loses the
// race between the pick of a free port and its own bind.
class TakenPort {
 public:
  TakenPort() {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::listen(fd_.get(), 1) == 0 &&
        ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  int port() const { return port_; }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

class EmbeddedPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(taken_.port(), 0);
    auto dir = fs::make_temp_dir("tarmac-pg");
    ASSERT_TRUE(dir) << dir.error().what();
    dir_ = *dir;
    // As root, the server runs as the postgres user, which must reach its data dir.
    ::chmod(dir_.c_str(), 0711);
    options_.data_dir = dir_ + "/data";
    options_.fsync = false;
    options_.die_with_parent = true;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)fs::remove_all(dir_);
  }

  TakenPort taken_;
  std::string dir_;
  EmbeddedPostgresOptions options_;
};

// The likeliest winner of the race is another PostgreSQL (parallel test processes each start
// one): it answers on the port, so only our own server's word says it is up.
TEST_F(EmbeddedPostgresTest, APickedPortTakenBeforeItsBindIsPickedAgain) {
  EmbeddedPostgresOptions other = options_;
  other.data_dir = dir_ + "/other";
  auto holder = EmbeddedPostgres::start(other);
  ASSERT_TRUE(holder) << holder.error().what();
  int second = TakenPort().port();  // free again once its holder goes
  int picks = 0;
  options_.pick_port = [&]() -> Result<int> { return ++picks == 1 ? (*holder)->port() : second; };
  auto pg = EmbeddedPostgres::start(options_);
  ASSERT_TRUE(pg) << pg.error().what();
  EXPECT_EQ(picks, 2);
  EXPECT_EQ((*pg)->port(), second);
  EXPECT_TRUE((*pg)->create_database("reachable").ok());
}

TEST_F(EmbeddedPostgresTest, GivesUpAfterFivePicksAreAllTaken) {
  int picks = 0;
  options_.pick_port = [&]() -> Result<int> {
    ++picks;
    return taken_.port();
  };
  auto pg = EmbeddedPostgres::start(options_);
  ASSERT_FALSE(pg);
  EXPECT_EQ(picks, 5);
  EXPECT_EQ(pg.error().errnum(), EADDRINUSE);
  EXPECT_NE(pg.error().message().find("Address already in use"), std::string::npos)
      << pg.error().what();
}

// A port the operator chose is theirs: taken, it is an error naming why, not another port.
TEST_F(EmbeddedPostgresTest, AGivenPortThatIsTakenIsAnError) {
  int picks = 0;
  options_.port = taken_.port();
  options_.pick_port = [&]() -> Result<int> { return ++picks; };
  auto pg = EmbeddedPostgres::start(options_);
  ASSERT_FALSE(pg);
  EXPECT_EQ(picks, 0);
  EXPECT_EQ(pg.error().errnum(), EADDRINUSE);
  EXPECT_NE(pg.error().message().find(std::to_string(taken_.port())), std::string::npos)
      << pg.error().what();
}

// As root the server runs as another user; it must still go when its parent does (a test
// process killed by ctest's timeout leaves no PostgreSQL behind).
TEST_F(EmbeddedPostgresTest, DiesWithItsParentAfterChangingUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: only root changes to the postgres user";
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto pg = EmbeddedPostgres::start(options_);
    pid_t server = pg.ok() ? (*pg)->pid() : -1;
    (void)!::write(pipe_fds[1], &server, sizeof server);
    ::raise(SIGKILL);  // no destructor stops it
  }
  ::close(pipe_fds[1]);
  pid_t server = -1;
  ASSERT_EQ(::read(pipe_fds[0], &server, sizeof server), static_cast<ssize_t>(sizeof server));
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_GT(server, 0);
  bool gone = false;
  for (int i = 0; i < 1500 && !gone; ++i) {
    // Gone, or a zombie its new parent has yet to reap.
    auto stat = fs::read_file("/proc/" + std::to_string(server) + "/stat");
    gone = !stat.ok() || stat->find(") Z ") != std::string::npos;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone) << "postgres " << server << " outlived its parent";
  if (!gone) ::kill(server, SIGKILL);
}

}  // namespace
}  // namespace tarmac::atc::db
