#pragma once

// Small helpers shared by the benchmarks: timing, medians, shell commands, dying on errors.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/fs_kind.h"
#include "common/result.h"

namespace tarmac::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Stats {
  double median = 0, p90 = 0, mean = 0, min = 0, max = 0;
};

// Nearest-rank percentile of sorted samples.
inline double percentile(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(p * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

inline Stats stats_of(std::vector<double> samples) {
  Stats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  size_t n = samples.size();
  s.median = n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  s.p90 = percentile(samples, 0.9);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(n);
  s.min = samples.front();
  s.max = samples.back();
  return s;
}

inline double median(std::vector<double> v) { return stats_of(std::move(v)).median; }

inline double time_ms(const std::function<void()>& f) {
  auto t = Clock::now();
  f();
  return ms_since(t);
}

inline void sh(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "command failed: %s\n", cmd.c_str());
}

[[noreturn]] inline void die(const std::string& what, const Error& e) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), e.what().c_str());
  std::exit(1);
}

template <typename T>
T must(Result<T> r, const std::string& what) {
  if (!r.ok()) die(what, r.error());
  return std::move(*r);
}

inline void must(Status s, const std::string& what) {
  if (!s.ok()) die(what, s.error());
}

// A line saying that `dir` is on ext4 without a journal (see fs_kind.h: every inode a timed
// step makes costs more the more were removed lately, the benchmark's own earlier rounds
// included), or "".
inline std::string journal_note(const std::string& dir) {
  auto bare = on_ext4_without_journal(dir);
  if (!bare.ok() || !*bare) return "";
  return dir +
         " is on ext4 without a journal: each create scans past the inodes removed in "
         "the last minutes, see bench/README.md";
}

// A mixed tree: a few big files and many small ones in nested directories.
inline void make_tree(const std::string& dir, int big_files, int big_mb, int small_files) {
  sh("mkdir -p " + dir);
  for (int i = 0; i < big_files; ++i)
    sh("head -c " + std::to_string(big_mb) + "M /dev/urandom > " + dir + "/big" +
       std::to_string(i));
  std::string blob(10000, 'x');
  for (int i = 0; i < small_files; ++i) {
    std::string sub = dir + "/d" + std::to_string(i % 50) + "/e" + std::to_string(i % 7);
    (void)fs::make_dirs(sub);
    (void)fs::write_file(sub + "/f" + std::to_string(i), blob);
  }
  sh("cd " + dir + " && ln -s big0 link && ln big0 hardlink");
}

}  // namespace tarmac::bench
