#pragma once

// A small ext4 image, made with the given mkfs.ext4 options and loop-mounted, for tests of
// what depends on the filesystem. Needs root, mkfs.ext4 and a free loop device; `mount`
// says why it could not when one is missing, for the test to skip by name.
#include <sys/mount.h>

#include <cstdlib>
#include <string>

#include "common/fs.h"

namespace tarmac::testing {

class LoopExt4 {
 public:
  explicit LoopExt4(std::string dir) : dir_(std::move(dir)), mnt_(dir_ + "/mnt") {}
  ~LoopExt4() { ::umount2(mnt_.c_str(), MNT_DETACH); }

  bool mount(const std::string& size, const std::string& mkfs_options, std::string* why) {
    std::string image = dir_ + "/image";
    if (!fs::make_dirs(mnt_).ok()) {
      *why = "cannot make " + mnt_;
      return false;
    }
    std::string mkfs = "truncate -s " + size + " " + image + " && mkfs.ext4 -q -F " + mkfs_options +
                       " " + image + " >/dev/null 2>&1";
    if (std::system(mkfs.c_str()) != 0) {
      *why = "mkfs.ext4 failed or is missing";
      return false;
    }
    if (std::system(("mount -o loop " + image + " " + mnt_ + " 2>/dev/null").c_str()) != 0) {
      *why = "no loop device to mount an image with";
      return false;
    }
    return true;
  }

  const std::string& path() const { return mnt_; }

 private:
  std::string dir_, mnt_;
};

}  // namespace tarmac::testing
