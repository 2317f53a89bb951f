#include "worker/bpm/shared_volume.h"

#include <openssl/evp.h>
#include <sys/mount.h>

#include "worker/bpm/lock.h"
#include "worker/runtime/mountinfo.h"

namespace tarmac::bpm {

std::string volume_lock_file(const BoshPaths& paths, const std::string& volume) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(volume.data(), volume.size(), digest, &size, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return paths.locks_dir() + "/vol-" + hex + ".lock";
}

Status make_volume_shared(const BoshPaths& paths, const std::string& volume) {
  std::string what = "share volume " + volume;
  auto lock = ProcessLock::acquire(volume_lock_file(paths, volume));
  if (!lock) return std::move(lock).error().wrap(what);
  auto point = runtime::find_mount_point(volume);
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
