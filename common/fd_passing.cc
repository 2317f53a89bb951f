#include "common/fd_passing.h"

#include <sys/socket.h>

#include <cstring>

namespace tarmac {

bool send_with_fd(int sock, std::string_view data, int fd) {
  iovec iov = {const_cast<char*>(data.data()), data.size()};
  char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

ssize_t receive_with_fd(int sock, char* buf, size_t len, int* fd) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov = {buf, len};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  *fd = -1;
  if (n <= 0) return n;
  if (cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    std::memcpy(fd, CMSG_DATA(c), sizeof *fd);
  return n;
}

}  // namespace tarmac
