#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string_view>

namespace tarmac {

// One message on a unix socket with one file descriptor beside it (SCM_RIGHTS); true if all
// of `data` went.
bool send_with_fd(int sock, std::string_view data, int fd);

// One such message into `buf` (up to `len` bytes), the descriptor (close-on-exec) in `*fd`, or
// -1 when none came. Returns recvmsg's result.
ssize_t receive_with_fd(int sock, char* buf, size_t len, int* fd);

}  // namespace tarmac
