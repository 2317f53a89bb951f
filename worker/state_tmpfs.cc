#include "worker/state_tmpfs.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include "baggageclaim/mounts.h"
#include "common/fs.h"

namespace tarmac {

Result<StateDir> mount_state_tmpfs(const std::string& dir) {
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir, 0700), "state dir");
  auto point = baggageclaim::is_mount_point(dir);
  if (!point) return std::move(point).error().wrap("state dir");
  if (*point) return StateDir::kAlreadyMounted;
  auto names = fs::list_dir(dir);
  if (!names) return std::move(names).error().wrap("state dir");
  for (const std::string& name : *names) {
    struct stat st;
    if (::lstat((dir + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      return StateDir::kKeptOnDisk;
  }
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0700,size=64m") != 0)
    return sys_error("state dir: mount tmpfs on " + dir);
  return StateDir::kMounted;
}

}  // namespace tarmac
