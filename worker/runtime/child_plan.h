#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/result.h"
#include "worker/runtime/capabilities.h"
#include "worker/runtime/seccomp.h"
#include "worker/runtime/spec.h"

namespace tarmac::runtime {

// One mount step of the child, with every string and flag worked out in the parent: between
// clone and exec the child may not allocate (the parent may be multi-threaded).
struct ChildMount {
  enum class Kind { kBind, kFilesystem, kSymlink };
  Kind kind = Kind::kFilesystem;
  const char* source = nullptr;  // host path (bind), fs name, or symlink target
  const char* target = nullptr;  // path inside the rootfs, absolute ("/dev/pts")
  const char* fstype = nullptr;
  unsigned long flags = 0;  // for mount(2)
  const char* data = nullptr;
  bool target_is_dir = true;        // create a directory (or an empty file) as mount point
  unsigned long remount_flags = 0;  // a bind remount with these (MS_RDONLY, MS_NOSUID, ...)
  // Every bind is cloned (open_tree) before the root moves and attached (move_mount) in its
  // place; a bind in the source's peer group is cloned before everything is made a slave.
  // The child keeps the clone's fd here.
  bool shared = false;
  mutable int tree_fd = -1;
};

// Everything the cloned child does, prepared by the parent.
struct ChildPlan {
  int sync_fd = -1;  // SOCK_SEQPACKET to the parent: one byte "go" in, ChildError out
  int exit_fd = -1;  // the state's exit file; only init keeps it
  int init_fd = -1;  // O_PATH of the static init binary
  int net_fd = -1;   // a ready network namespace to join (its loopback up), else none
  int stdio[3] = {-1, -1, -1};
  bool stdio_is_pty = false;
  // The main process's stack: it is cloned with CLONE_VM (see spawn.h).
  void* main_stack = nullptr;
  // The main process starts before the filesystem is built and waits on this futex word in
  // the memory it shares with init; `main_parent` is init's pid as it sees it.
  mutable uint32_t main_gate = 0;
  mutable long main_parent = 0;
  // A socket pair init makes before it clones the main process: tarmac-init writes a byte to it
  // once it runs as itself. The main process execs only after, so that nothing of the container
  // ever runs while its pid 1 still shares our memory (its /proc/1 would show our command
  // line, environment, memory); EOF without the byte means init died, and so does it.
  mutable int init_ready[2] = {-1, -1};
  // A helper's stack and its result: it detaches the old root beside init's mount work.
  void* detach_stack = nullptr;
  mutable int detach_errno = 0;

  const char* rootfs = nullptr;
  bool rootfs_readonly = false;
  bool new_pid = true;
  bool new_net = false;  // a network namespace of its own: bring its loopback up
  bool new_user = false;
  bool privileged = false;
  std::vector<ChildMount> mounts;
  std::vector<const char*> masked_paths;
  std::vector<const char*> readonly_paths;
  const char* hostname = nullptr;

  // The main process, when there is one.
  bool has_main = true;
  std::vector<const char*> exec_candidates;  // args[0], or each PATH entry joined with it
  std::vector<char*> argv;                   // null-terminated
  std::vector<char*> envp;                   // null-terminated
  const char* cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  CapabilitySet caps;
  SeccompProgram seccomp;
  bool use_seccomp = true;
  // Load the filter while init builds the filesystem, before the process's own setup: only
  // for a profile known to allow every call of that setup (the built-in one).
  bool seccomp_early = false;
  std::vector<Rlimit> rlimits;

  // Owns the strings the pointers above point into (a deque never moves its elements).
  std::deque<std::string> strings;
  const char* keep(std::string s) { return strings.emplace_back(std::move(s)).c_str(); }
};

// What the child sends the parent when a step fails: the step with its path, and the errno.
struct ChildError {
  int errnum = 0;
  char step[400] = {};

  Error to_error() {
    step[sizeof step - 1] = 0;  // whatever came over the socket
    return Error(step, errnum);
  }
};

// Runs in the child after clone(2): waits for the parent's go, builds the container's
// filesystem, forks the main process, and becomes the container's init. Never returns.
[[noreturn]] void run_child(const ChildPlan& plan);

// run_child for clone(2)'s glibc wrapper: `plan` is the ChildPlan.
int run_child_entry(void* plan);

// What run_exec_child_entry needs: the plan, and the container init's pidfd and namespaces to
// join through it.
struct ExecChildArgs {
  const ChildPlan* plan = nullptr;
  int init_pidfd = -1;
  int namespaces = 0;  // CLONE_NEW* flags to join through init_pidfd
};

// Runs in a child cloned with CLONE_VM to start another process in a running container: joins
// the namespaces, waits for the parent's go (it is in the container's cgroup then), and clones the
// process as its parent's child (CLONE_PARENT: the caller waits for it directly, no relay in
// between) into the container's pid namespace, on the plan's main_stack. Once the process has
// exec'd (or failed, reporting why) it sends the parent the process's host pid and exits. `args` is
// an ExecChildArgs.
int run_exec_child_entry(void* args);

}  // namespace tarmac::runtime
