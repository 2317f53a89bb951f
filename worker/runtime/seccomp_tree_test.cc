#include "worker/runtime/seccomp_tree.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "worker/runtime/seccomp.h"

namespace tarmac::runtime {
namespace {

// A classic BPF interpreter for seccomp programs, as the kernel runs them (every instruction
// libseccomp or the range tree may emit). Any other opcode, a jump out of the program or a
// fall off its end is an error: nullopt.
std::optional<uint32_t> run(const std::vector<sock_filter>& prog, const seccomp_data& data) {
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const unsigned char*>(&data);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& i = prog[pc];
    auto jump = [&](bool taken) { pc += taken ? i.jt : i.jf; };
    uint32_t operand = BPF_SRC(i.code) == BPF_X ? x : i.k;
    switch (i.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (i.k % 4 || i.k + 4 > sizeof data) return std::nullopt;
        std::memcpy(&a, bytes + i.k, 4);
        break;
      case BPF_LD | BPF_IMM:
        a = i.k;
        break;
      case BPF_LDX | BPF_IMM:
        x = i.k;
        break;
      case BPF_LD | BPF_MEM:
        if (i.k >= BPF_MEMWORDS) return std::nullopt;
        a = mem[i.k];
        break;
      case BPF_LDX | BPF_MEM:
        if (i.k >= BPF_MEMWORDS) return std::nullopt;
        x = mem[i.k];
        break;
      case BPF_ST:
        if (i.k >= BPF_MEMWORDS) return std::nullopt;
        mem[i.k] = a;
        break;
      case BPF_STX:
        if (i.k >= BPF_MEMWORDS) return std::nullopt;
        mem[i.k] = x;
        break;
      case BPF_ALU | BPF_AND | BPF_K:
      case BPF_ALU | BPF_AND | BPF_X:
        a &= operand;
        break;
      case BPF_ALU | BPF_OR | BPF_K:
      case BPF_ALU | BPF_OR | BPF_X:
        a |= operand;
        break;
      case BPF_ALU | BPF_ADD | BPF_K:
      case BPF_ALU | BPF_ADD | BPF_X:
        a += operand;
        break;
      case BPF_ALU | BPF_SUB | BPF_K:
      case BPF_ALU | BPF_SUB | BPF_X:
        a -= operand;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_MISC | BPF_TXA:
        a = x;
        break;
      case BPF_JMP | BPF_JA:
        pc += i.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
      case BPF_JMP | BPF_JEQ | BPF_X:
        jump(a == operand);
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
      case BPF_JMP | BPF_JGT | BPF_X:
        jump(a > operand);
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
      case BPF_JMP | BPF_JGE | BPF_X:
        jump(a >= operand);
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
      case BPF_JMP | BPF_JSET | BPF_X:
        jump(a & operand);
        break;
      case BPF_RET | BPF_K:
        return i.k;
      case BPF_RET | BPF_A:
        return a;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string describe(const seccomp_data& d) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "arch %#x nr %#x args[0] %#llx", d.arch, d.nr,
                static_cast<unsigned long long>(d.args[0]));
  return buf;
}

// The compact program answers every (architecture, number, clone flags) exactly as libseccomp's
// compilation of the same profile: same allowlist, same errno, same kill for a foreign arch.
TEST(SeccompTree, DefaultProfileMatchesLibseccompEverywhere) {
  auto compact = build_default_seccomp();
  auto reference = build_default_seccomp_with_libseccomp();
  ASSERT_TRUE(compact.ok()) << compact.error().what();
  ASSERT_TRUE(reference.ok()) << reference.error().what();
  EXPECT_LT(compact->filter().size() * 2, reference->filter().size())
      << "the range tree should be well under half libseccomp's length";
  EXPECT_LE(compact->filter().size(), static_cast<size_t>(BPF_MAXINSNS));

  std::vector<uint32_t> numbers;
  for (uint32_t base : {0u, 0x40000000u})
    for (uint32_t nr = 0; nr < 1100; ++nr) numbers.push_back(base + nr);
  for (uint32_t nr : {0x3fffffffu, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu})
    numbers.push_back(nr);
  const uint64_t flags[] = {0,
                            SIGCHLD,
                            CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD,
                            CLONE_NEWNS | SIGCHLD,
                            CLONE_NEWUSER,
                            CLONE_NEWNET | CLONE_VM,
                            CLONE_NEWCGROUP,
                            0xffffffff00000000ull,
                            0xffffffffffffffffull};
  const uint32_t arches[] = {AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0};
  size_t checked = 0, allowed = 0;
  for (uint32_t arch : arches)
    for (uint32_t nr : numbers)
      for (uint64_t f : flags) {
        seccomp_data d = {};
        d.arch = arch;
        d.nr = static_cast<int>(nr);
        d.args[0] = f;
        auto want = run(reference->filter(), d);
        auto got = run(compact->filter(), d);
        ASSERT_TRUE(want.has_value()) << "libseccomp's program did not run for " << describe(d);
        ASSERT_TRUE(got.has_value()) << "the range tree did not run for " << describe(d);
        ASSERT_EQ(*got, *want) << describe(d);
        ++checked;
        allowed += *got == SECCOMP_RET_ALLOW;
      }
  // Not vacuous: both allow a lot and refuse a lot.
  EXPECT_GT(allowed, checked / 10);
  EXPECT_LT(allowed, checked / 2);
}

// Far jumps: a tree longer than a conditional jump reaches still lands every number right.
TEST(SeccompTree, AlternatingVerdictsNeedFarJumps) {
  ArchRules rules{AUDIT_ARCH_X86_64};
  for (uint32_t nr = 0; nr < 1200; nr += 2) rules.syscalls[nr] = SyscallVerdict::kAllow;
  rules.syscalls[1201] = SyscallVerdict::kEnosys;
  rules.syscalls[1203] = SyscallVerdict::kAllowWithoutNamespaces;
  rules.syscalls[0xffffffff] = SyscallVerdict::kAllow;
  auto prog = build_range_tree_filter({rules}, CLONE_NEWNS, EACCES);
  ASSERT_GT(prog.size(), 1000u);
  const uint32_t deny = SECCOMP_RET_ERRNO | EACCES;
  for (uint32_t nr = 0; nr < 1300; ++nr) {
    seccomp_data d = {};
    d.arch = AUDIT_ARCH_X86_64;
    d.nr = static_cast<int>(nr);
    uint32_t want = nr < 1200 && nr % 2 == 0 ? SECCOMP_RET_ALLOW : deny;
    if (nr == 1201) want = SECCOMP_RET_ERRNO | ENOSYS;
    if (nr == 1203) want = SECCOMP_RET_ALLOW;
    ASSERT_EQ(run(prog, d), want) << describe(d);
    if (nr == 1203) {
      d.args[0] = CLONE_NEWNS;
      ASSERT_EQ(run(prog, d), deny) << describe(d);
    }
  }
  seccomp_data last = {};
  last.arch = AUDIT_ARCH_X86_64;
  last.nr = -1;
  EXPECT_EQ(run(prog, last), SECCOMP_RET_ALLOW);
  last.nr = -2;
  EXPECT_EQ(run(prog, last), deny);
  last.arch = AUDIT_ARCH_I386;
  EXPECT_EQ(run(prog, last), SECCOMP_RET_KILL_THREAD);
}

}  // namespace
}  // namespace tarmac::runtime
