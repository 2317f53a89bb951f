#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace tarmac::runtime {

// A system call that never touches errno: the result, or -errno. Processes cloned with
// CLONE_VM share their creator's memory and so its errno; where two of them run side by side,
// one's failed call must not rewrite the errno the other is about to read.
inline long raw_syscall(long n, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                        long a6 = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 asm("x8") = n;
  register long x0 asm("x0") = a1;
  register long x1 asm("x1") = a2;
  register long x2 asm("x2") = a3;
  register long x3 asm("x3") = a4;
  register long x4 asm("x4") = a5;
  register long x5 asm("x5") = a6;
  asm volatile("svc 0"
               : "+r"(x0)
               : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
               : "memory", "cc");
  return x0;
#else
  // Elsewhere errno is written after all; only the errno of a failure can be mixed up.
  long r = ::syscall(n, a1, a2, a3, a4, a5, a6);
  return r < 0 ? -errno : r;
#endif
}

// recv(2) as a raw system call: the result, or -errno.
inline long raw_recv(int fd, void* buf, unsigned long len, int flags = 0) {
  return raw_syscall(SYS_recvfrom, fd, reinterpret_cast<long>(buf), static_cast<long>(len), flags,
                     0, 0);
}

// The kernel's struct sigaction, for a raw rt_sigaction (x86_64 and arm64 alike with
// SA_RESTORER).
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  unsigned long mask;
};

}  // namespace tarmac::runtime
