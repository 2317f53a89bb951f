#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/result.h"

namespace tarmac {

// Spreads new directories over a filesystem's block groups. ext4 puts a new directory in its
// parent's group and a new file in its directory's, so every volume of a store (and all that
// is made in it) would share one group; on ext4 without a journal each inode made in a group
// scans past every one removed there in the last minutes (fs_kind.h), so one busy group makes
// every create slower. The shards, made in a directory marked as the top of a hierarchy
// (FS_TOPDIR_FL, which makes ext4 place its subdirectories in different groups), each sit in a
// group of their own, and a directory made in one stays in that group wherever it is renamed
// to, with everything later made in it.
class DirSpreader {
 public:
  // Enough that each group sees a sixteenth of the churn, few enough to make at every start.
  static constexpr int kShards = 16;

  // Makes `dir` (and its shards s0 … s<count-1>) where missing, with `mode`. The mark is
  // best-effort: a filesystem that has no such flag (tmpfs, xfs) gets plain shards.
  static Result<std::unique_ptr<DirSpreader>> open(const std::string& dir, int count, mode_t mode);

  // The next shard, round-robin: where to make a new directory.
  std::string next();
  const std::string& dir() const { return dir_; }

 private:
  DirSpreader(std::string dir, int count) : dir_(std::move(dir)), count_(count) {}

  std::string dir_;
  int count_;
  std::atomic<unsigned> next_{0};
};

}  // namespace tarmac
