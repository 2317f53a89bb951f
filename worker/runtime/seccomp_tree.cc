#include "worker/runtime/seccomp_tree.h"

#include <linux/seccomp.h>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <limits>

namespace tarmac::runtime {
namespace {

using Program = std::vector<sock_filter>;

constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
// The low word of args[0]; clone(2) reads only the low 32 bits of its flags, so the high word
// cannot smuggle a namespace flag past the check.
static_assert(std::endian::native == std::endian::little,
              "on a big-endian machine the low word of args[0] lies 4 bytes further on");
constexpr uint32_t kArg0LowOffset = offsetof(seccomp_data, args);
// cBPF's conditional jumps reach at most 255 instructions ahead.
constexpr size_t kMaxShortJump = std::numeric_limits<uint8_t>::max();

sock_filter stmt(uint16_t code, uint32_t k) { return {code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return {code, jt, jf, k}; }

void append(Program& to, const Program& from) { to.insert(to.end(), from.begin(), from.end()); }

// A run of numbers from `first` up to the next segment's first, all with one verdict.
struct Segment {
  uint32_t first;
  SyscallVerdict verdict;
};

std::vector<Segment> segments_of(const ArchRules& rules) {
  std::vector<Segment> out{{0, SyscallVerdict::kDeny}};
  auto from = [&out](uint32_t first, SyscallVerdict verdict) {
    if (out.back().first == first)
      out.back().verdict = verdict;  // only ever number 0, the first segment's start
    else if (out.back().verdict != verdict)
      out.push_back({first, verdict});
  };
  for (const auto& [nr, verdict] : rules.syscalls) {
    from(nr, verdict);
    // The number after it is denied unless the map names it.
    if (nr != std::numeric_limits<uint32_t>::max() && !rules.syscalls.count(nr + 1))
      from(nr + 1, SyscallVerdict::kDeny);
  }
  return out;
}

Program leaf(SyscallVerdict verdict, uint32_t namespace_flags, int deny_errno) {
  const uint32_t deny = SECCOMP_RET_ERRNO | (static_cast<uint32_t>(deny_errno) & SECCOMP_RET_DATA);
  switch (verdict) {
    case SyscallVerdict::kAllow:
      return {stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    case SyscallVerdict::kEnosys:
      return {stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS)};
    case SyscallVerdict::kAllowWithoutNamespaces:
      return {stmt(BPF_LD | BPF_W | BPF_ABS, kArg0LowOffset),
              jump(BPF_JMP | BPF_JSET | BPF_K, namespace_flags, 1, 0),
              stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), stmt(BPF_RET | BPF_K, deny)};
    case SyscallVerdict::kDeny:
      break;
  }
  return {stmt(BPF_RET | BPF_K, deny)};
}

// Expects the syscall number in A.
Program tree(const std::vector<Segment>& segs, size_t begin, size_t end, uint32_t namespace_flags,
             int deny_errno) {
  if (end - begin == 1) return leaf(segs[begin].verdict, namespace_flags, deny_errno);
  size_t mid = begin + (end - begin) / 2;
  Program below = tree(segs, begin, mid, namespace_flags, deny_errno);
  Program above = tree(segs, mid, end, namespace_flags, deny_errno);
  Program out;
  if (below.size() <= kMaxShortJump) {
    out.push_back(
        jump(BPF_JMP | BPF_JGE | BPF_K, segs[mid].first, static_cast<uint8_t>(below.size()), 0));
  } else {
    // Too far for a conditional jump: through an unconditional one, which reaches anywhere.
    out.push_back(jump(BPF_JMP | BPF_JGE | BPF_K, segs[mid].first, 0, 1));
    out.push_back(stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(below.size())));
  }
  append(out, below);
  append(out, above);
  return out;
}

}  // namespace

std::vector<sock_filter> build_range_tree_filter(const std::vector<ArchRules>& arches,
                                                 uint32_t namespace_flags, int deny_errno) {
  // Each architecture's section: load the number, then its tree.
  std::vector<Program> sections;
  for (const ArchRules& rules : arches) {
    auto segs = segments_of(rules);
    Program section{stmt(BPF_LD | BPF_W | BPF_ABS, kNrOffset)};
    append(section, tree(segs, 0, segs.size(), namespace_flags, deny_errno));
    sections.push_back(std::move(section));
  }
  // The dispatch: per architecture a compare and a jump to its section; anything else is killed.
  // Sections follow the dispatch in order, so each jump's distance is what lies between.
  Program out{stmt(BPF_LD | BPF_W | BPF_ABS, kArchOffset)};
  const size_t dispatch_size = 1 + 2 * arches.size() + 1;
  size_t section_start = dispatch_size;
  for (size_t i = 0; i < arches.size(); ++i) {
    out.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, arches[i].audit_arch, 0, 1));
    size_t ja_at = out.size();
    out.push_back(stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(section_start - (ja_at + 1))));
    section_start += sections[i].size();
  }
  out.push_back(stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD));
  for (const Program& s : sections) append(out, s);
  return out;
}

}  // namespace tarmac::runtime
