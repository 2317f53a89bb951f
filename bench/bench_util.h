#pragma once

// Small helpers shared by the benchmarks: timing, medians, shell commands, dying on errors.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/fs.h"
#include "common/result.h"

namespace tarmac::bench {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

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
