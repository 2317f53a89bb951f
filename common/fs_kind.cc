#include "common/fs_kind.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "common/fs.h"

namespace tarmac {

Result<bool> on_ext4_without_journal(const std::string& path) {
  struct statfs sfs;
  if (::statfs(path.c_str(), &sfs) != 0) return sys_error("statfs " + path);
  if (sfs.f_type != EXT4_SUPER_MAGIC) return false;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat " + path);
  // The block device's kernel name (vda, loop3, dm-0) names it in /proc/fs/ext4.
  std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  auto uevent = fs::read_file("/sys/dev/block/" + dev + "/uevent");
  if (!uevent) return std::move(uevent).error().wrap("device of " + path);
  auto at = uevent->find("DEVNAME=");
  if (at == std::string::npos) return Error("device of " + path + ": no DEVNAME in its uevent");
  at += 8;
  std::string name = uevent->substr(at, uevent->find('\n', at) - at);
  // ext4 shows its data mode (data=ordered, journal, writeback) only with a journal, an
  // external one included.
  auto options = fs::read_file("/proc/fs/ext4/" + name + "/options");
  if (!options) return std::move(options).error().wrap("ext4 options of " + path);
  return options->find("data=") == std::string::npos;
}

}  // namespace tarmac
