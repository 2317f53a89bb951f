// The container's side of creation. Everything here runs between clone(2) and execve(2) of a
// possibly multi-threaded parent, so it uses raw syscalls only: no allocation, no locks, no
// stdio. Each failure is reported to the parent as a ChildError naming the step and path.
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "worker/runtime/child_plan.h"
#include "worker/runtime/raw_syscall.h"
#include "worker/runtime/spawn.h"

namespace tarmac::runtime {
namespace {

// A fixed buffer to build messages and paths in without allocating.
class Text {
 public:
  Text& add(const char* s) {
    while (s && *s && len_ + 1 < sizeof buf_) buf_[len_++] = *s++;
    buf_[len_] = 0;
    return *this;
  }
  Text& add(long n) {
    char digits[24];
    int i = 0;
    bool neg = n < 0;
    unsigned long v = neg ? -static_cast<unsigned long>(n) : n;
    do digits[i++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) && i < 22);
    if (neg) digits[i++] = '-';
    while (i && len_ + 1 < sizeof buf_) buf_[len_++] = digits[--i];
    buf_[len_] = 0;
    return *this;
  }
  const char* c_str() const { return buf_; }

 private:
  char buf_[400] = {};
  size_t len_ = 0;
};

// Thread-local, not global: a child cloned with CLONE_VM writes into its creator's memory,
// and two threads may create containers at once. Its TLS is its creating thread's.
thread_local int g_sync_fd = -1;

[[noreturn]] void fail(const Text& step, int errnum, int code = 1) {
  ChildError e;
  e.errnum = errnum;
  size_t n = std::strlen(step.c_str());
  if (n >= sizeof e.step) n = sizeof e.step - 1;
  std::memcpy(e.step, step.c_str(), n);
  ssize_t ignored = ::send(g_sync_fd, &e, sizeof e, MSG_NOSIGNAL);
  (void)ignored;
  ::_exit(code);
}

[[noreturn]] void fail(const char* what, const char* path, int errnum, int code = 1) {
  Text t;
  t.add(what);
  if (path) t.add(" ").add(path);
  fail(t, errnum, code);
}

long openat2_path(int root, const char* path, unsigned long flags) {
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, root, path, &how, sizeof how);
}

// Makes `name` in `parent` as a directory or an empty file; one already there is fine.
// `display` is its path inside the root, for errors.
void make_node(int parent, const char* name, const char* display, bool is_dir) {
  int r = is_dir
              ? ::mkdirat(parent, name, 0755)
              : ::openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (r < 0 && errno != EEXIST) fail("create mount point", display, errno);
  if (!is_dir && r >= 0) ::close(r);
}

// The O_PATH of `path` just made: still missing after its creation said EEXIST means a
// symlink to nowhere.
int reopen_made(int root, const char* path) {
  long fd = openat2_path(root, path, O_PATH);
  if (fd < 0 && errno == ENOENT) fail("mount point is a dangling symlink:", path, ENOENT);
  if (fd < 0) fail("resolve mount point", path, errno);
  return static_cast<int>(fd);
}

// Opens `path` inside `root` as O_PATH, creating missing parents as directories and the last
// component as a directory or an empty file. Symlinks resolve as if `root` were "/", so an
// image cannot aim a mount at the host.
int open_in_root(int root, const char* path, bool is_dir) {
  long fd = openat2_path(root, path, O_PATH);
  if (fd >= 0) return static_cast<int>(fd);
  if (errno != ENOENT) fail("resolve mount point", path, errno);

  char prefix[4096];
  size_t n = std::strlen(path);
  if (n >= sizeof prefix) fail("resolve mount point", path, ENAMETOOLONG);
  // Mostly only the last component is missing (every node of the fresh /dev): make it in
  // its parent, resolved like any path here, rather than walk down from the root.
  const char* slash = std::strrchr(path, '/');
  if (slash && slash[1]) {
    size_t plen = slash == path ? 1 : static_cast<size_t>(slash - path);
    std::memcpy(prefix, path, plen);
    prefix[plen] = 0;
    long parent = openat2_path(root, prefix, O_PATH);
    if (parent >= 0) {
      make_node(static_cast<int>(parent), slash + 1, path, is_dir);
      ::close(static_cast<int>(parent));
      return reopen_made(root, path);
    }
    if (errno != ENOENT) fail("resolve mount point", prefix, errno);
  }

  int parent = ::dup(root);
  size_t start = 0;
  while (start < n) {
    while (start < n && path[start] == '/') ++start;
    size_t end = start;
    while (end < n && path[end] != '/') ++end;
    if (end == start) break;
    std::memcpy(prefix, path, end);
    prefix[end] = 0;
    char name[256];
    size_t len = end - start < 255 ? end - start : 255;
    std::memcpy(name, path + start, len);
    name[len] = 0;
    bool last = end >= n || path[end + 1] == 0;
    long next = openat2_path(root, prefix, O_PATH);
    if (next < 0 && errno == ENOENT) {
      make_node(parent, name, prefix, !last || is_dir);
      next = reopen_made(root, prefix);
    }
    if (next < 0) fail("resolve mount point", prefix, errno);
    ::close(parent);
    parent = static_cast<int>(next);
    start = end;
  }
  return parent;
}

// Flags a bind remount must keep: the kernel refuses to clear nosuid/nodev/noexec/ro that
// a less privileged mount namespace inherited locked.
unsigned long locked_flags(const char* path) {
  struct statvfs s;
  if (::statvfs(path, &s) != 0) return 0;
  unsigned long f = 0;
  if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (s.f_flag & ST_NODEV) f |= MS_NODEV;
  if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

void remount(const char* where, const char* display, unsigned long flags) {
  unsigned long all = MS_REMOUNT | MS_BIND | flags | locked_flags(where);
  if (::mount(nullptr, where, nullptr, all, nullptr) != 0) fail("remount", display, errno);
}

bool same_type(int a, int b) {
  struct stat sa, sb;
  if (::fstat(a, &sa) != 0 || ::fstat(b, &sb) != 0) return true;
  return S_ISDIR(sa.st_mode) == S_ISDIR(sb.st_mode);
}

[[noreturn]] void fail_mount(const ChildMount& m, int err) {
  Text t;
  t.add("mount ").add(m.source).add(" on ").add(m.target);
  fail(t, err);
}

void do_mount(int root, const ChildMount& m) {
  if (m.kind == ChildMount::Kind::kSymlink) {
    // The link's directory is resolved inside the root like any mount point.
    char dir[4096];
    const char* slash = std::strrchr(m.target, '/');
    size_t len = static_cast<size_t>(slash - m.target);
    if (len >= sizeof dir) fail("symlink", m.target, ENAMETOOLONG);
    std::memcpy(dir, m.target, len);
    dir[len] = 0;
    int dfd = open_in_root(root, len ? dir : "/", true);
    if (::symlinkat(m.source, dfd, slash + 1) != 0 && errno != EEXIST)
      fail("symlink", m.target, errno);
    ::close(dfd);
    return;
  }
  // Mounted through the mount point's fd (or as the working directory): the old root may
  // still lie over "/" here (see build_filesystem), and /proc is not there yet.
  int fd = open_in_root(root, m.target, m.target_is_dir);
  int r;
  if (m.kind == ChildMount::Kind::kBind) {
    r = static_cast<int>(::syscall(SYS_move_mount, m.tree_fd, "", fd, "",
                                   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
  } else {
    r = ::fchdir(fd);
    if (r == 0) r = ::mount(m.source, ".", m.fstype, m.flags, m.data);
  }
  int err = errno;
  // move_mount says EINVAL where a bind mount(2) said ENOTDIR: a file onto a directory or
  // the other way round. Say which, as mount(2) did.
  if (r != 0 && err == EINVAL && m.kind == ChildMount::Kind::kBind && !same_type(m.tree_fd, fd))
    err = ENOTDIR;
  ::close(fd);
  if (r != 0) fail_mount(m, err);
  if (m.remount_flags) {
    // Reopen: the old fd still names the directory under the new mount.
    int top = open_in_root(root, m.target, m.target_is_dir);
    if (::fchdir(top) != 0) fail("chdir", m.target, errno);
    remount(".", m.target, m.remount_flags);
    ::close(top);
  }
}

void mask_path(const char* path) {
  struct stat st;
  if (::stat(path, &st) != 0) return;  // nothing there to hide
  int r = S_ISDIR(st.st_mode) ? ::mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=0755")
                              : ::mount("/dev/null", path, nullptr, MS_BIND, nullptr);
  if (r != 0) fail("mask", path, errno);
}

void readonly_path(const char* path) {
  if (::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    if (errno == ENOENT) return;
    fail("bind read-only", path, errno);
  }
  remount(path, path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
}

// A step of the main process's set-up that failed; reported once the process may use errno.
struct StepError {
  const char* step = nullptr;
  const char* path = nullptr;
  int errnum = 0;
};

// Records the first failure of a raw syscall's result `r`; true if it failed.
bool failed(long r, StepError& e, const char* step, const char* path = nullptr) {
  if (r >= 0) return false;
  e = {step, path, static_cast<int>(-r)};
  return true;
}

bool bring_up_loopback(StepError& e) {
  long s = raw_syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (failed(s, e, "socket for loopback")) return false;
  struct ifreq ifr = {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  bool ok = !failed(raw_syscall(SYS_ioctl, s, SIOCGIFFLAGS, reinterpret_cast<long>(&ifr)), e,
                    "get flags of", "lo");
  if (ok) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ok = !failed(raw_syscall(SYS_ioctl, s, SIOCSIFFLAGS, reinterpret_cast<long>(&ifr)), e,
                 "bring up", "lo");
  }
  raw_syscall(SYS_close, s);
  return ok;
}

// Takes the old root (the copy of the host's mounts) off the container's "/": it runs beside
// init's mount work, because a detach waits for an RCU grace period (a millisecond here).
// Shares init's memory and errno: raw syscalls only.
int detach_entry(void* plan) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(plan);
  long r = raw_syscall(SYS_umount2, reinterpret_cast<long>("."), MNT_DETACH);
  p.detach_errno = r < 0 ? static_cast<int>(-r) : 0;
  return 0;
}

// A user namespace may mount proc or sysfs only while one like it is fully visible in the
// mount namespace: these go in before the old root (the host's) is detached.
bool needs_host_view(const ChildMount& m) {
  return m.kind == ChildMount::Kind::kFilesystem &&
         (std::strcmp(m.fstype, "proc") == 0 || std::strcmp(m.fstype, "sysfs") == 0);
}

long clone_tree(const ChildMount& m) {
  return ::syscall(SYS_open_tree, AT_FDCWD, m.source,
                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m.flags & MS_REC) ? AT_RECURSIVE : 0));
}

void build_filesystem(const ChildPlan& p) {
  // Shared binds are cloned while our copies of the host's mounts are still in the host's
  // peer groups: a clone of a shared mount joins its group, and the slave step below does
  // not touch a detached clone.
  for (const ChildMount& m : p.mounts) {
    if (!m.shared) continue;
    long fd = clone_tree(m);
    if (fd < 0) fail("clone shared mount", m.source, errno);
    m.tree_fd = static_cast<int>(fd);
  }
  // Slave: the host's unmounts still reach us, nothing of ours reaches the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    fail("make / rslave", nullptr, errno);
  // Every other bind source is cloned now, while host paths still resolve: the root moves
  // before anything is mounted in it. A clone of a slave is a slave of the same master.
  for (const ChildMount& m : p.mounts) {
    if (m.kind != ChildMount::Kind::kBind || m.shared) continue;
    long fd = clone_tree(m);
    if (fd < 0) fail_mount(m, errno);
    m.tree_fd = static_cast<int>(fd);
  }
  if (::mount(p.rootfs, p.rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    fail("bind rootfs", p.rootfs, errno);
  int root = ::open(p.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) fail("open rootfs", p.rootfs, errno);
  for (const ChildMount& m : p.mounts)
    if (needs_host_view(m)) do_mount(root, m);
  if (::fchdir(root) != 0) fail("chdir", p.rootfs, errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail("pivot_root", p.rootfs, errno);
  // The old root now lies over the new one. Its mounts have been slaves since the first
  // step, so detaching them cannot reach the host. (A second recursive slave step here, as
  // runc does, would land on the new root, whose "." it is, and take shared volumes out of
  // their peer groups.) Until the detach is done, nothing here resolves from "/".
  pid_t detacher =
      ::clone(detach_entry, p.detach_stack, CLONE_VM | SIGCHLD, const_cast<ChildPlan*>(&p));
  if (detacher < 0) fail("start detaching old root", nullptr, errno);
  for (const ChildMount& m : p.mounts)
    if (!needs_host_view(m)) do_mount(root, m);
  int status = 0;
  while (::waitpid(detacher, &status, 0) < 0)
    if (errno != EINTR) fail("wait for detaching old root", nullptr, errno);
  if (p.detach_errno) fail("detach old root", nullptr, p.detach_errno);
  if (::chdir("/") != 0) fail("chdir", "/", errno);
  ::close(root);

  for (const char* path : p.masked_paths) mask_path(path);
  for (const char* path : p.readonly_paths) readonly_path(path);
  if (p.rootfs_readonly) remount("/", "/", MS_RDONLY);
}

// Everything of the process's set-up that does not need its filesystem, in raw syscalls: for
// the main process it runs beside init's mount work, before the gate. Its handlers are the
// defaults already (its creator reset them, see reset_signal_handlers); the caller's blocked
// signals are unblocked at its exec.
bool prepare_process(const ChildPlan& p, StepError& e) {
  if (failed(raw_syscall(SYS_setsid), e, "setsid")) return false;
  // Duplicated above 2 first so that putting them on 0..2 never clobbers a source.
  long fds[3];
  for (int i = 0; i < 3; ++i) {
    fds[i] = raw_syscall(SYS_fcntl, p.stdio[i], F_DUPFD_CLOEXEC, 3);
    if (failed(fds[i], e, "dup stdio")) return false;
  }
  for (int i = 0; i < 3; ++i)
    if (failed(raw_syscall(SYS_dup3, fds[i], i, 0), e, "dup2 stdio")) return false;
  if (p.stdio_is_pty &&
      failed(raw_syscall(SYS_ioctl, 0, TIOCSCTTY, 0), e, "set controlling terminal"))
    return false;
  for (const Rlimit& r : p.rlimits) {
    struct rlimit l = {r.soft, r.hard};
    if (failed(raw_syscall(SYS_prlimit64, 0, r.resource, reinterpret_cast<long>(&l), 0), e,
               "setrlimit"))
      return false;
  }
  if (!p.privileged) {
    if (int err = drop_bounding_capabilities(p.caps)) {
      e = {"drop bounding capabilities", nullptr, err};
      return false;
    }
  }
  if (failed(raw_syscall(SYS_setgroups, static_cast<long>(p.groups.size()),
                         reinterpret_cast<long>(p.groups.data())),
             e, "setgroups") ||
      failed(raw_syscall(SYS_setresgid, p.gid, p.gid, p.gid), e, "setresgid") ||
      failed(raw_syscall(SYS_setresuid, p.uid, p.uid, p.uid), e, "setresuid"))
    return false;
  if (int err = apply_capabilities(p.caps)) {
    e = {"set capabilities", nullptr, err};
    return false;
  }
  if (failed(raw_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1), e, "set no_new_privs")) return false;
  if (p.use_seccomp && p.seccomp_early) {
    if (int err = p.seccomp.load()) {
      e = {"load seccomp filter", nullptr, err};
      return false;
    }
  }
  return true;
}

// The rest, once the filesystem is there: the working directory, a custom seccomp profile
// (last, so that it need allow nothing of ours), and the exec.
[[noreturn]] void exec_prepared(const ChildPlan& p) {
  if (::chdir(p.cwd) != 0) fail("chdir", p.cwd, errno, 127);
  if (p.use_seccomp && !p.seccomp_early) {
    if (int e = p.seccomp.load()) fail("load seccomp filter", nullptr, e, 127);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  int err = ENOENT;
  for (const char* path : p.exec_candidates) {
    ::execve(path, p.argv.data(), p.envp.data());
    // Keep looking along PATH only while the name is simply not there.
    if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
      break;
    }
  }
  fail("exec", p.argv[0], err, 127);
}

// Dies with init: a parent-death signal, which every change of credentials clears again.
void die_with_parent(const ChildPlan& p) {
  raw_syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (raw_syscall(SYS_getppid) != p.main_parent) raw_syscall(SYS_exit_group, 1);
}

// The main process, started early: it runs beside init's filesystem work until init opens
// the gate, sharing its memory and errno, so until then only raw syscalls (no errno).
int main_entry(void* plan) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(plan);
  // Init failing midway must take us along; if it already died, there is no gate to wait for.
  die_with_parent(p);
  raw_syscall(SYS_close, p.init_ready[1]);  // init's: EOF on ours then means it died
  StepError err;
  bool ready = (!p.new_net || bring_up_loopback(err)) && prepare_process(p, err);
  die_with_parent(p);
  while (__atomic_load_n(&p.main_gate, __ATOMIC_ACQUIRE) == 0)
    raw_syscall(SYS_futex, reinterpret_cast<long>(&p.main_gate), FUTEX_WAIT, 0, 0);
  char up = 0;
  long got;
  while ((got = raw_syscall(SYS_read, p.init_ready[0], reinterpret_cast<long>(&up), 1)) == -EINTR) {
  }
  if (got != 1) raw_syscall(SYS_exit_group, 1);
  raw_syscall(SYS_close, p.init_ready[0]);
  raw_syscall(SYS_prctl, PR_SET_PDEATHSIG, 0);
  if (!ready) fail(err.step, err.path, err.errnum, 127);
  exec_prepared(p);
}

int exec_entry(void* plan) {
  const ChildPlan& p = *static_cast<const ChildPlan*>(plan);
  StepError err;
  if (!prepare_process(p, err)) fail(err.step, err.path, err.errnum, 127);
  exec_prepared(p);
}

void open_gate(const ChildPlan& p) {
  __atomic_store_n(&p.main_gate, 1, __ATOMIC_RELEASE);
  raw_syscall(SYS_futex, reinterpret_cast<long>(&p.main_gate), FUTEX_WAKE, 1);
}

}  // namespace

int run_child_entry(void* plan) { run_child(*static_cast<const ChildPlan*>(plan)); }

int run_exec_child_entry(void* raw) {
  const auto& args = *static_cast<const ExecChildArgs*>(raw);
  const ChildPlan& p = *args.plan;
  // Cloned with CLONE_VM and every signal blocked: no handler of the caller may ever run here.
  reset_signal_handlers();
  g_sync_fd = p.sync_fd;
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The namespaces first, while the caller puts us in the container's cgroup; the process
  // (which inherits it) only after its go.
  // Raw: the caller, sharing our errno, works on the cgroup meanwhile.
  // All at once through init's pidfd: the kernel joins the user namespace first, which
  // grants the rights to join the rest.
  if (long r = raw_syscall(SYS_setns, args.init_pidfd, args.namespaces); r < 0)
    fail("join namespaces of container", nullptr, static_cast<int>(-r));
  char go = 0;
  if (::recv(p.sync_fd, &go, 1, 0) != 1) ::_exit(1);
  // VFORK: we go on once the process has exec'd or failed, so only one of us runs at a time
  // in the memory we share with the caller.
  pid_t pid = ::clone(exec_entry, p.main_stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD,
                      const_cast<ChildPlan*>(&p));
  if (pid < 0) fail("start process", nullptr, errno);
  // Our pid namespace is the caller's, so this is the host pid it can signal and wait for.
  ssize_t sent = ::send(p.sync_fd, &pid, sizeof pid, MSG_NOSIGNAL);
  (void)sent;
  ::_exit(0);
}

[[noreturn]] void run_child(const ChildPlan& p) {
  // Cloned with CLONE_VM and every signal blocked: no handler of the caller may ever run here.
  reset_signal_handlers();
  g_sync_fd = p.sync_fd;
  // Whatever the parent had open must not reach the container.
  ::syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);

  // Our name from the start: the main process may read /proc/1/comm before our exec has
  // renamed us.
  raw_syscall(SYS_prctl, PR_SET_NAME, reinterpret_cast<long>("tarmac-init"));
  char go = 0;
  if (::recv(p.sync_fd, &go, 1, 0) != 1) ::_exit(1);  // the parent gave up

  ::prctl(PR_SET_PDEATHSIG, 0);
  // Before the main process exists, which inherits it.
  if (p.net_fd >= 0 && ::setns(p.net_fd, CLONE_NEWNET) != 0)
    fail("join network namespace", nullptr, errno);
  if (p.new_user) {
    // Raw syscalls: after a raw clone glibc still believes in the parent's threads, and its
    // set*id wrappers would wait forever for them to change ids too.
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0)
      fail("become root in user namespace (gid)", nullptr, errno);
    if (::syscall(SYS_setresuid, 0, 0, 0) != 0)
      fail("become root in user namespace (uid)", nullptr, errno);
  }
  if (!p.privileged && ::unshare(CLONE_NEWCGROUP) != 0)
    fail("unshare cgroup namespace", nullptr, errno);

  // The main process starts now, in every namespace but before the filesystem exists, so that
  // its slow steps (the seccomp filter's compilation above all) run beside ours. It shares
  // our memory until its exec: no page table is copied or torn down for it (see spawn.h).
  pid_t main_pid = 0;
  if (p.has_main) {
    p.main_parent = raw_syscall(SYS_getpid);
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p.init_ready) != 0)
      fail("socketpair for main process", nullptr, errno);
    main_pid = ::clone(main_entry, p.main_stack, CLONE_VM | SIGCHLD, const_cast<ChildPlan*>(&p));
    if (main_pid < 0) fail("start main process", nullptr, errno);
    ::close(p.init_ready[0]);
  }

  // The main process brings up the loopback beside our mount work; without one, we do.
  if (p.new_net && !p.has_main) {
    StepError err;
    if (!bring_up_loopback(err)) fail(err.step, err.path, err.errnum);
  }
  build_filesystem(p);
  if (p.hostname && ::sethostname(p.hostname, std::strlen(p.hostname)) != 0)
    fail("sethostname", p.hostname, errno);
  // Opened before the gate: after it the main process may write errno too.
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) fail("open", "/dev/null", errno);
  if (p.has_main) open_gate(p);

  // Become init: /dev/null for stdio, the exit file kept across exec (and only now that the
  // main process has its own descriptors: it must never see that file).
  for (int i = 0; i < 3; ++i) ::dup2(null_fd, i);
  if (::fcntl(p.exit_fd, F_SETFD, 0) != 0) fail("keep exit file", nullptr, errno);
  Text pid_arg, fd_arg, ready_arg;
  pid_arg.add(static_cast<long>(main_pid));
  fd_arg.add(static_cast<long>(p.exit_fd));
  const char* argv[] = {"tarmac-init", pid_arg.c_str(), fd_arg.c_str(), nullptr, nullptr};
  if (p.has_main) {
    if (::fcntl(p.init_ready[1], F_SETFD, 0) != 0) fail("keep ready pipe", nullptr, errno);
    ready_arg.add(static_cast<long>(p.init_ready[1]));
    argv[3] = ready_arg.c_str();
  }
  const char* envp[] = {nullptr};
  // The caller may signal the container as soon as create() returns, which is before init has
  // installed its handlers; a pid-namespace init drops unhandled signals unless they are
  // blocked, so block everything across exec and let init take them once it is ready.
  sigset_t all;
  sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, nullptr);
  ::syscall(SYS_execveat, p.init_fd, "", argv, envp, AT_EMPTY_PATH);
  int err = errno;
  if (main_pid > 0) ::kill(main_pid, SIGKILL);
  fail("exec init", nullptr, err);
}

}  // namespace tarmac::runtime
