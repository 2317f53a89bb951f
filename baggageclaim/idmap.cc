#include "baggageclaim/idmap.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/fs.h"

namespace tarmac::baggageclaim {

Result<UniqueFd> make_userns(const IdRange& range) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return sys_error("make user namespace: pipe");
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  // A raw clone so the child needs nothing from libc's fork handlers: it only waits for the
  // parent to write its maps and take a reference to its namespace.
  pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
  if (pid < 0) return sys_error("make user namespace: clone");
  if (pid == 0) {
    char byte;
    ::close(pipe_fds[1]);
    while (::read(pipe_fds[0], &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
  }
  auto finish = [&](Result<UniqueFd> result) {
    write_end.reset();
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return result;
  };
  std::string map = "0 " + std::to_string(range.host_base) + " " + std::to_string(range.size);
  std::string proc = "/proc/" + std::to_string(pid);
  for (const char* file : {"/uid_map", "/gid_map"}) {
    if (auto s = fs::write_file(proc + file, map); !s.ok())
      return finish(std::move(s).error().wrap("make user namespace"));
  }
  UniqueFd ns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return finish(sys_error("make user namespace: open " + proc + "/ns/user"));
  return finish(std::move(ns));
}

Status mount_idmapped(const std::string& source, const std::string& target, int userns_fd) {
  UniqueFd tree(::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
  if (!tree) return sys_error("idmapped mount of " + source + ": open_tree");
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<uint64_t>(userns_fd);
  if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0)
    return sys_error("idmapped mount of " + source + ": mount_setattr");
  if (::move_mount(tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return sys_error("idmapped mount of " + source + " at " + target + ": move_mount");
  return ok_status();
}

namespace {

// Changing fsuid away from 0 clears the filesystem capabilities from the effective set;
// raise them again from the (untouched) permitted set. Per thread, like fsuid.
Status raise_effective_capabilities() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  if (::syscall(SYS_capget, &header, data) != 0) return sys_error("capget");
  data[0].effective = data[0].permitted;
  data[1].effective = data[1].permitted;
  if (::syscall(SYS_capset, &header, data) != 0) return sys_error("capset");
  return ok_status();
}

}  // namespace

ScopedMappedFsIds::ScopedMappedFsIds(const IdRange& range, bool enabled) {
  if (!enabled) return;
  ::setfsuid(range.host_base);
  ::setfsgid(range.host_base);
  active_ = true;
  if (static_cast<uid_t>(::setfsuid(-1)) != range.host_base) {
    status_ = Error("set filesystem ids to " + std::to_string(range.host_base) + ": refused");
    return;
  }
  status_ = raise_effective_capabilities();
}

ScopedMappedFsIds::~ScopedMappedFsIds() {
  if (!active_) return;
  // Back to 0: the kernel restores the effective filesystem capabilities itself.
  ::setfsgid(0);
  ::setfsuid(0);
}

}  // namespace tarmac::baggageclaim
