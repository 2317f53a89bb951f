// The default seccomp allowlist, after Docker's default profile and bpm's: what ordinary
// programs need, with EPERM for the rest (mount, unshare, setns, keyctl, ptrace, bpf, ...).
#include "worker/runtime/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/fs.h"
#include "worker/runtime/raw_syscall.h"
#include "worker/runtime/seccomp_tree.h"

namespace tarmac::runtime {
namespace {

constexpr const char* kAllowed[] = {"accept",
                                    "accept4",
                                    "access",
                                    "adjtimex",
                                    "alarm",
                                    "bind",
                                    "brk",
                                    "capget",
                                    "capset",
                                    "chdir",
                                    "chmod",
                                    "chown",
                                    "chown32",
                                    "clock_adjtime",
                                    "clock_getres",
                                    "clock_gettime",
                                    "clock_nanosleep",
                                    "close",
                                    "close_range",
                                    "connect",
                                    "copy_file_range",
                                    "creat",
                                    "dup",
                                    "dup2",
                                    "dup3",
                                    "epoll_create",
                                    "epoll_create1",
                                    "epoll_ctl",
                                    "epoll_ctl_old",
                                    "epoll_pwait",
                                    "epoll_pwait2",
                                    "epoll_wait",
                                    "epoll_wait_old",
                                    "eventfd",
                                    "eventfd2",
                                    "execve",
                                    "execveat",
                                    "exit",
                                    "exit_group",
                                    "faccessat",
                                    "faccessat2",
                                    "fadvise64",
                                    "fallocate",
                                    "fanotify_mark",
                                    "fchdir",
                                    "fchmod",
                                    "fchmodat",
                                    "fchown",
                                    "fchownat",
                                    "fcntl",
                                    "fdatasync",
                                    "fgetxattr",
                                    "flistxattr",
                                    "flock",
                                    "fork",
                                    "fremovexattr",
                                    "fsetxattr",
                                    "fstat",
                                    "fstatfs",
                                    "fsync",
                                    "ftruncate",
                                    "futex",
                                    "futex_waitv",
                                    "futimesat",
                                    "getcpu",
                                    "getcwd",
                                    "getdents",
                                    "getdents64",
                                    "getegid",
                                    "geteuid",
                                    "getgid",
                                    "getgroups",
                                    "getitimer",
                                    "getpeername",
                                    "getpgid",
                                    "getpgrp",
                                    "getpid",
                                    "getppid",
                                    "getpriority",
                                    "getrandom",
                                    "getresgid",
                                    "getresuid",
                                    "getrlimit",
                                    "get_robust_list",
                                    "getrusage",
                                    "getsid",
                                    "getsockname",
                                    "getsockopt",
                                    "get_thread_area",
                                    "gettid",
                                    "gettimeofday",
                                    "getuid",
                                    "getxattr",
                                    "inotify_add_watch",
                                    "inotify_init",
                                    "inotify_init1",
                                    "inotify_rm_watch",
                                    "io_cancel",
                                    "ioctl",
                                    "io_destroy",
                                    "io_getevents",
                                    "io_pgetevents",
                                    "ioprio_get",
                                    "ioprio_set",
                                    "io_setup",
                                    "io_submit",
                                    "io_uring_enter",
                                    "io_uring_register",
                                    "io_uring_setup",
                                    "ipc",
                                    "kill",
                                    "landlock_add_rule",
                                    "landlock_create_ruleset",
                                    "landlock_restrict_self",
                                    "lchown",
                                    "lgetxattr",
                                    "link",
                                    "linkat",
                                    "listen",
                                    "listxattr",
                                    "llistxattr",
                                    "lremovexattr",
                                    "lseek",
                                    "lsetxattr",
                                    "lstat",
                                    "madvise",
                                    "membarrier",
                                    "memfd_create",
                                    "memfd_secret",
                                    "mincore",
                                    "mkdir",
                                    "mkdirat",
                                    "mknod",
                                    "mknodat",
                                    "mlock",
                                    "mlock2",
                                    "mlockall",
                                    "mmap",
                                    "mprotect",
                                    "mq_getsetattr",
                                    "mq_notify",
                                    "mq_open",
                                    "mq_timedreceive",
                                    "mq_timedsend",
                                    "mq_unlink",
                                    "mremap",
                                    "msgctl",
                                    "msgget",
                                    "msgrcv",
                                    "msgsnd",
                                    "msync",
                                    "munlock",
                                    "munlockall",
                                    "munmap",
                                    "name_to_handle_at",
                                    "nanosleep",
                                    "newfstatat",
                                    "open",
                                    "openat",
                                    "openat2",
                                    "pause",
                                    "pidfd_getfd",
                                    "pidfd_open",
                                    "pidfd_send_signal",
                                    "pipe",
                                    "pipe2",
                                    "pkey_alloc",
                                    "pkey_free",
                                    "pkey_mprotect",
                                    "poll",
                                    "ppoll",
                                    "prctl",
                                    "pread64",
                                    "preadv",
                                    "preadv2",
                                    "prlimit64",
                                    "process_mrelease",
                                    "pselect6",
                                    "pwrite64",
                                    "pwritev",
                                    "pwritev2",
                                    "read",
                                    "readahead",
                                    "readlink",
                                    "readlinkat",
                                    "readv",
                                    "recv",
                                    "recvfrom",
                                    "recvmmsg",
                                    "recvmsg",
                                    "remap_file_pages",
                                    "removexattr",
                                    "rename",
                                    "renameat",
                                    "renameat2",
                                    "restart_syscall",
                                    "rmdir",
                                    "rseq",
                                    "rt_sigaction",
                                    "rt_sigpending",
                                    "rt_sigprocmask",
                                    "rt_sigqueueinfo",
                                    "rt_sigreturn",
                                    "rt_sigsuspend",
                                    "rt_sigtimedwait",
                                    "rt_tgsigqueueinfo",
                                    "sched_getaffinity",
                                    "sched_getattr",
                                    "sched_getparam",
                                    "sched_get_priority_max",
                                    "sched_get_priority_min",
                                    "sched_getscheduler",
                                    "sched_rr_get_interval",
                                    "sched_setaffinity",
                                    "sched_setattr",
                                    "sched_setparam",
                                    "sched_setscheduler",
                                    "sched_yield",
                                    "seccomp",
                                    "select",
                                    "semctl",
                                    "semget",
                                    "semop",
                                    "semtimedop",
                                    "send",
                                    "sendfile",
                                    "sendmmsg",
                                    "sendmsg",
                                    "sendto",
                                    "setfsgid",
                                    "setfsuid",
                                    "setgid",
                                    "setgroups",
                                    "setitimer",
                                    "setpgid",
                                    "setpriority",
                                    "setregid",
                                    "setresgid",
                                    "setresuid",
                                    "setreuid",
                                    "setrlimit",
                                    "set_robust_list",
                                    "setsid",
                                    "setsockopt",
                                    "set_thread_area",
                                    "set_tid_address",
                                    "setuid",
                                    "setxattr",
                                    "shmat",
                                    "shmctl",
                                    "shmdt",
                                    "shmget",
                                    "shutdown",
                                    "sigaltstack",
                                    "signalfd",
                                    "signalfd4",
                                    "socket",
                                    "socketcall",
                                    "socketpair",
                                    "splice",
                                    "stat",
                                    "statfs",
                                    "statx",
                                    "symlink",
                                    "symlinkat",
                                    "sync",
                                    "sync_file_range",
                                    "syncfs",
                                    "sysinfo",
                                    "tee",
                                    "tgkill",
                                    "time",
                                    "timer_create",
                                    "timer_delete",
                                    "timer_getoverrun",
                                    "timer_gettime",
                                    "timer_settime",
                                    "timerfd_create",
                                    "timerfd_gettime",
                                    "timerfd_settime",
                                    "times",
                                    "tkill",
                                    "truncate",
                                    "umask",
                                    "uname",
                                    "unlink",
                                    "unlinkat",
                                    "utime",
                                    "utimensat",
                                    "utimes",
                                    "vfork",
                                    "vmsplice",
                                    "wait4",
                                    "waitid",
                                    "waitpid",
                                    "write",
                                    "writev",
                                    "arch_prctl",
                                    "modify_ldt",
                                    "chroot",
                                    "sched_getaffinity",
                                    "getpmsg",
                                    "putpmsg",
                                    "sendfile64",
                                    "socketcall",
                                    "epoll_pwait",
                                    "process_vm_readv",
                                    "process_vm_writev",
                                    "fstatfs64",
                                    "statfs64",
                                    "fcntl64",
                                    "ftruncate64",
                                    "truncate64",
                                    "_llseek",
                                    "mmap2",
                                    "stat64",
                                    "lstat64",
                                    "fstat64",
                                    "fstatat64",
                                    "ugetrlimit",
                                    "_newselect",
                                    "sigreturn",
                                    "cacheflush",
                                    "set_tls",
                                    "fchown32",
                                    "getegid32",
                                    "geteuid32",
                                    "getgid32",
                                    "getgroups32",
                                    "getresgid32",
                                    "getresuid32",
                                    "getuid32",
                                    "lchown32",
                                    "setfsgid32",
                                    "setfsuid32",
                                    "setgid32",
                                    "setgroups32",
                                    "setregid32",
                                    "setresgid32",
                                    "setresuid32",
                                    "setreuid32",
                                    "setuid32",
                                    "clock_gettime64",
                                    "clock_nanosleep_time64",
                                    "futex_time64",
                                    "ppoll_time64",
                                    "pselect6_time64",
                                    "recvmmsg_time64",
                                    "rt_sigtimedwait_time64",
                                    "semtimedop_time64",
                                    "timer_gettime64",
                                    "timer_settime64",
                                    "timerfd_gettime64",
                                    "timerfd_settime64",
                                    "utimensat_time64",
                                    "io_pgetevents_time64",
                                    "mq_timedreceive_time64",
                                    "mq_timedsend_time64",
                                    "sched_rr_get_interval_time64",
                                    "clock_getres_time64",
                                    "fanotify_init",
                                    "getrandom",
                                    "epoll_pwait2",
                                    "faccessat2",
                                    "process_madvise",
                                    "mseal",
                                    "map_shadow_stack",
                                    "cachestat",
                                    "fchmodat2",
                                    "set_mempolicy",
                                    "get_mempolicy",
                                    "mbind",
                                    "set_mempolicy_home_node",
                                    "personality"};

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                     CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;

struct Ctx {
  scmp_filter_ctx ctx;
  ~Ctx() { seccomp_release(ctx); }
};

Status add(scmp_filter_ctx ctx, uint32_t action, int nr, const char* name, unsigned count = 0,
           const scmp_arg_cmp* args = nullptr) {
  int rc = seccomp_rule_add_array(ctx, action, nr, count, args);
  if (rc != 0 && rc != -EEXIST) return sys_error(std::string("seccomp rule ") + name, -rc);
  return {};
}

// 32-bit x86's direct socket and SysV IPC calls (Linux 4.3+): libseccomp resolves these names to
// pseudo-numbers there, and allows them through its socketcall/ipc multiplexing, which
// emits the direct numbers as well. Numbers from asm/unistd_32.h, fixed by the ABI.
constexpr std::pair<const char*, uint32_t> kX86Direct[] = {
    {"recvmmsg", 337},   {"sendmmsg", 345},   {"socket", 359},      {"socketpair", 360},
    {"bind", 361},       {"connect", 362},    {"listen", 363},      {"accept4", 364},
    {"getsockopt", 365}, {"setsockopt", 366}, {"getsockname", 367}, {"getpeername", 368},
    {"sendto", 369},     {"sendmsg", 370},    {"recvfrom", 371},    {"recvmsg", 372},
    {"shutdown", 373},   {"semget", 393},     {"semctl", 394},      {"shmget", 395},
    {"shmctl", 396},     {"shmat", 397},      {"shmdt", 398},       {"msgget", 399},
    {"msgsnd", 400},     {"msgrcv", 401},     {"msgctl", 402}};

int syscall_number(uint32_t arch, const char* name) {
  int nr = seccomp_syscall_resolve_name_arch(arch, name);
  if (nr < 0 && arch == SCMP_ARCH_X86)
    for (const auto& [direct, number] : kX86Direct)
      if (std::strcmp(direct, name) == 0) return static_cast<int>(number);
  return nr;
}

}  // namespace

std::vector<std::string> default_seccomp_allowlist() {
  std::vector<std::string> names;
  for (const char* n : kAllowed)
    if (std::find(names.begin(), names.end(), n) == names.end()) names.emplace_back(n);
  return names;
}

Result<SeccompProgram> build_default_seccomp() {
  // x86_64 and x32 calls both say AUDIT_ARCH_X86_64 (x32 numbers carry bit 30); 32-bit x86
  // calls (int 0x80) say AUDIT_ARCH_I386 and must meet the same list, not bypass it. libseccomp's
  // SCMP_ARCH_* are the AUDIT_ARCH_* values.
  const uint32_t native = seccomp_arch_native();
  std::vector<ArchRules> arches{{native}};
  std::vector<std::pair<uint32_t, size_t>> sources{{native, 0}};
  if (native == SCMP_ARCH_X86_64) {
    arches.push_back({SCMP_ARCH_X86});
    sources = {{SCMP_ARCH_X86_64, 0}, {SCMP_ARCH_X32, 0}, {SCMP_ARCH_X86, 1}};
  }
  for (const auto& [arch, index] : sources) {
    auto& syscalls = arches[index].syscalls;
    auto number = [arch = arch](const char* name) { return syscall_number(arch, name); };
    // Negative: unknown to libseccomp, or a call this architecture lacks.
    for (const char* name : kAllowed)
      if (int nr = number(name); nr >= 0)
        syscalls[static_cast<uint32_t>(nr)] = SyscallVerdict::kAllow;
    // clone only without namespace flags: threads and fork, never a new namespace. clone3
    // hides its flags in memory a filter cannot read; ENOSYS makes libc use clone.
    if (int nr = number("clone"); nr >= 0)
      syscalls[static_cast<uint32_t>(nr)] = SyscallVerdict::kAllowWithoutNamespaces;
    if (int nr = number("clone3"); nr >= 0)
      syscalls[static_cast<uint32_t>(nr)] = SyscallVerdict::kEnosys;
  }
  static_assert(kNamespaceFlags <= UINT32_MAX, "clone(2) reads only the low word of its flags");
  auto filter = build_range_tree_filter(arches, static_cast<uint32_t>(kNamespaceFlags), EPERM);
  // The kernel refuses longer programs, and load() passes the length as 16 bits.
  if (filter.size() > BPF_MAXINSNS)
    return Error("seccomp: default profile compiles to " + std::to_string(filter.size()) +
                 " instructions, over the kernel's " + std::to_string(BPF_MAXINSNS));
  return SeccompProgram(std::move(filter));
}

Result<SeccompProgram> build_default_seccomp_with_libseccomp() {
  Ctx c{seccomp_init(SCMP_ACT_ERRNO(EPERM))};
  if (!c.ctx) return Error("seccomp_init failed");
  // A binary tree instead of a linear scan: every syscall of the container pays for the
  // filter, and ~300 rules scanned in order cost more than the load itself.
  seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  // 32-bit x86 calls through int 0x80 must meet the same list, not bypass it. Elsewhere only
  // the native architecture, as build_default_seccomp.
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
    for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
      int rc = seccomp_arch_add(c.ctx, arch);
      if (rc != 0 && rc != -EEXIST) return sys_error("seccomp arch", -rc);
    }
  }
  for (const char* name : kAllowed) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: nothing to allow
    TARMAC_RETURN_IF_ERROR(add(c.ctx, SCMP_ACT_ALLOW, nr, name), "seccomp");
  }
  // clone only without namespace flags: threads and fork, never a new namespace.
  scmp_arg_cmp no_ns = SCMP_A0(SCMP_CMP_MASKED_EQ, kNamespaceFlags, 0);
  TARMAC_RETURN_IF_ERROR(add(c.ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), "clone", 1, &no_ns),
                         "seccomp");
  // clone3 hides its flags in memory a filter cannot read; ENOSYS makes libc use clone.
  int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 != __NR_SCMP_ERROR)
    TARMAC_RETURN_IF_ERROR(add(c.ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, "clone3"), "seccomp");

  FILE* mem = std::tmpfile();
  if (!mem) return sys_error("seccomp: tmpfile");
  int rc = seccomp_export_bpf(c.ctx, fileno(mem));
  if (rc != 0) {
    std::fclose(mem);
    return sys_error("seccomp_export_bpf", -rc);
  }
  long size = ::lseek(fileno(mem), 0, SEEK_END);
  std::vector<sock_filter> filter(static_cast<size_t>(size) / sizeof(sock_filter));
  ssize_t got = ::pread(fileno(mem), filter.data(), filter.size() * sizeof(sock_filter), 0);
  std::fclose(mem);
  if (got != static_cast<ssize_t>(filter.size() * sizeof(sock_filter)) || filter.empty())
    return Error("seccomp: short BPF export");
  return SeccompProgram(std::move(filter));
}

int SeccompProgram::load() const {
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(filter_.size());
  prog.filter = const_cast<sock_filter*>(filter_.data());
  long r = raw_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, reinterpret_cast<long>(&prog));
  return r < 0 ? static_cast<int>(-r) : 0;
}

Status write_default_seccomp(const std::string& path) {
  auto program = build_default_seccomp();
  if (!program) return std::move(program).error();
  const auto& f = program->filter();
  return fs::write_file_atomic(
      path, std::string_view(reinterpret_cast<const char*>(f.data()), f.size() * sizeof(f[0])),
      0600, false);
}

Result<SeccompProgram> read_seccomp(const std::string& path) {
  auto bytes = fs::read_file(path);
  if (!bytes) return std::move(bytes).error().wrap("seccomp profile");
  if (bytes->empty() || bytes->size() % sizeof(sock_filter) != 0 ||
      bytes->size() / sizeof(sock_filter) > BPF_MAXINSNS)
    return Error("seccomp profile " + path + ": not a compiled BPF program (" +
                 std::to_string(bytes->size()) + " bytes)");
  std::vector<sock_filter> filter(bytes->size() / sizeof(sock_filter));
  std::memcpy(filter.data(), bytes->data(), bytes->size());
  return SeccompProgram(std::move(filter));
}

}  // namespace tarmac::runtime
