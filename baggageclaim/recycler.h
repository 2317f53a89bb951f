#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace tarmac::baggageclaim {

// Destroyed volumes' directories, emptied and kept for the next creates instead of being
// removed. A volume's directories cost an inode each to make and to remove, and on ext4
// without a journal every new inode scans past each one freed in the last minute of its
// group: a worker making and destroying a container's volume back to back pays that on its
// critical path. A kept directory comes back with one rename.
//
// A kept directory holds the driver's `layout` (its directories, emptied, with no extended
// attributes left) and nothing else but an old meta.json, which the next create overwrites;
// the create sets the owners, modes and times of what it uses, as for directories it made.
// Kept ones live in <spare_dir>/<uuid>; what a stop leaves there is the owner's to remove.
class DirRecycler {
 public:
  DirRecycler(std::string spare_dir, std::vector<std::string> layout, size_t max_kept)
      : spare_dir_(std::move(spare_dir)), layout_(std::move(layout)), max_kept_(max_kept) {}

  // Empties `dead` (unmounted) to the layout and keeps it: true. False when the pool is full
  // or `dead` is not laid out as expected or cannot be emptied: the caller removes it whole.
  bool keep(const std::string& dead);
  // Moves a kept directory to `path` (absent, same filesystem): true. False when none is kept.
  bool take(const std::string& path);
  size_t kept() const;

 private:
  bool empty_to_layout(const std::string& dir) const;

  const std::string spare_dir_;
  const std::vector<std::string> layout_;
  const size_t max_kept_;
  mutable std::mutex mu_;
  std::vector<std::string> kept_;
};

}  // namespace tarmac::baggageclaim
