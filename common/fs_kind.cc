#include "common/fs_kind.h"

#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "common/fs.h"

namespace tarmac {

Result<bool> on_ext4_without_journal(const std::string& path) {
  constexpr long kExt4Magic = 0xEF53;
  struct statfs sfs;
  if (::statfs(path.c_str(), &sfs) != 0) return sys_error("statfs " + path);
  if (sfs.f_type != kExt4Magic) return false;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat " + path);
  // The block device's kernel name (vda, loop3, dm-0) names its journal in /proc/fs/jbd2 as
  // <name>-8 while one is in use.
  std::string dev = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  auto uevent = fs::read_file("/sys/dev/block/" + dev + "/uevent");
  if (!uevent) return std::move(uevent).error().wrap("device of " + path);
  auto at = uevent->find("DEVNAME=");
  if (at == std::string::npos) return Error("device of " + path + ": no DEVNAME in its uevent");
  at += 8;
  std::string name = uevent->substr(at, uevent->find('\n', at) - at);
  auto journals = fs::list_dir("/proc/fs/jbd2");
  if (!journals) {
    if (journals.error().errnum() == ENOENT) return true;  // no journal anywhere
    return std::move(journals).error().wrap("journals");
  }
  for (const std::string& j : *journals)
    if (j.rfind(name + "-", 0) == 0) return false;
  return true;
}

}  // namespace tarmac
