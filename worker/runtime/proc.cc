#include "worker/runtime/proc.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/fs.h"

namespace tarmac::runtime {

uint64_t own_start_time() {
  // Atomics, not a lock: a child forked while another thread held one would wait forever.
  static std::atomic<pid_t> cached_pid{0};
  static std::atomic<uint64_t> cached{0};
  const pid_t self = ::getpid();
  if (cached_pid.load(std::memory_order_acquire) == self)
    return cached.load(std::memory_order_relaxed);
  auto st = read_proc_stat(self);
  if (!st || !st->has_value()) return 0;
  cached.store((*st)->start_time, std::memory_order_relaxed);
  cached_pid.store(self, std::memory_order_release);
  return (*st)->start_time;
}

Result<std::optional<ProcStat>> read_proc_stat(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  auto text = fs::read_file(path);
  if (!text) {
    if (text.error().errnum() == ENOENT || text.error().errnum() == ESRCH)
      return std::optional<ProcStat>();
    return std::move(text).error();
  }
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  size_t close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size())
    return Error("parse " + path + ": no ')'");
  const char* p = text->c_str() + close + 2;
  ProcStat st;
  st.state = *p;
  // Field 3 is the state; field 4 ppid; field 22 starttime.
  int field = 3;
  char* end = nullptr;
  while (*p && field < 22) {
    while (*p && *p != ' ') ++p;
    while (*p == ' ') ++p;
    ++field;
    if (field == 4) st.ppid = static_cast<pid_t>(std::strtol(p, &end, 10));
  }
  if (field != 22) return Error("parse " + path + ": too few fields");
  st.start_time = std::strtoull(p, &end, 10);
  return std::optional<ProcStat>(st);
}

bool process_alive(pid_t pid, uint64_t start_time) {
  auto st = read_proc_stat(pid);
  return st.ok() && st->has_value() && (*st)->start_time == start_time && (*st)->state != 'Z' &&
         (*st)->state != 'X';
}

Result<UniqueFd> open_pidfd(pid_t pid, uint64_t start_time) {
  UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!fd) {
    if (errno == ESRCH) return UniqueFd();
    return sys_error("pidfd_open " + std::to_string(pid));
  }
  // Checked after opening: the fd now pins this pid, so a match means it is our process.
  auto st = read_proc_stat(pid);
  if (!st) return std::move(st).error();
  if (!st->has_value() || (*st)->start_time != start_time) return UniqueFd();
  return fd;
}

Result<bool> wait_pidfd(int pidfd, std::optional<std::chrono::milliseconds> timeout) {
  struct pollfd p = {pidfd, POLLIN, 0};
  int ms = timeout ? static_cast<int>(timeout->count()) : -1;
  for (;;) {
    int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_error("poll pidfd");
    return r > 0;
  }
}

}  // namespace tarmac::runtime
