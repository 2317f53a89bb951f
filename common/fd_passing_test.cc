#include "common/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/unique_fd.h"

namespace tarmac {
namespace {

TEST(FdPassingTest, TheDescriptorArrivesBesideTheMessage) {
  int sv[2], p[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd a(sv[0]), b(sv[1]), r(p[0]), w(p[1]);
  ASSERT_TRUE(send_with_fd(a.get(), "/some/dir", w.get()));
  w.reset();
  char buf[64];
  int fd = -1;
  ssize_t n = receive_with_fd(b.get(), buf, sizeof buf, &fd);
  ASSERT_EQ(n, 9);
  EXPECT_EQ(std::string(buf, n), "/some/dir");
  ASSERT_GE(fd, 0);
  UniqueFd got(fd);
  EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  ASSERT_EQ(::write(fd, "x", 1), 1);  // the pipe's write end, passed along
  char c = 0;
  ASSERT_EQ(::read(r.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(FdPassingTest, AMessageWithoutADescriptorSaysSo) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_EQ(::send(a.get(), "plain", 5, 0), 5);
  char buf[16];
  int fd = 7;
  EXPECT_EQ(receive_with_fd(b.get(), buf, sizeof buf, &fd), 5);
  EXPECT_EQ(fd, -1);
  a.reset();
  EXPECT_EQ(receive_with_fd(b.get(), buf, sizeof buf, &fd), 0);  // the peer is gone
}

}  // namespace
}  // namespace tarmac
