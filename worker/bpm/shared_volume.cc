#include "worker/bpm/shared_volume.h"

#include <sys/mount.h>

#include "common/mountinfo.h"
#include "common/tls/digest.h"
#include "worker/bpm/lock.h"

namespace tarmac::bpm {

std::string volume_lock_file(const BoshPaths& paths, const std::string& volume) {
  return paths.locks_dir() + "/vol-" + tls::sha256_hex(volume) + ".lock";
}

Status make_volume_shared(const BoshPaths& paths, const std::string& volume) {
  std::string what = "share volume " + volume;
  auto lock = ProcessLock::acquire(volume_lock_file(paths, volume));
  if (!lock) return std::move(lock).error().wrap(what);
  auto point = find_mount_point(volume);
  if (!point) return std::move(point).error().wrap(what);
  if (*point && (*point)->shared) return {};
  bool bound = false;
  if (!*point) {
    if (::mount(volume.c_str(), volume.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return sys_error(what + ": bind onto itself");
    bound = true;
  }
  if (::mount("none", volume.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
    Error e = sys_error(what + ": make shared");
    if (bound) ::umount2(volume.c_str(), MNT_DETACH);
    return e;
  }
  return {};
}

}  // namespace tarmac::bpm
