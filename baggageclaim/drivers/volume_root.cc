#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "baggageclaim/driver.h"

namespace tarmac::baggageclaim {

Status make_volume_root(const std::string& path, const VolumeRecord& record,
                        const DriverContext& context) {
  bool reused = ::mkdir(path.c_str(), 0755) != 0;
  if (reused && errno != EEXIST) return sys_error("mkdir " + path);
  // Without idmapped mounts an unprivileged volume stores host ids: its root belongs to the
  // host id of container root.
  bool host_ids = !record.volume.privileged && !context.idmap();
  uid_t uid = host_ids ? context.ids.host_base : ::geteuid();
  gid_t gid = host_ids ? context.ids.host_base : ::getegid();
  if ((host_ids || reused) && ::chown(path.c_str(), uid, gid) != 0)
    return sys_error("chown " + path);
  if (reused) {
    if (::chmod(path.c_str(), 0755) != 0) return sys_error("chmod " + path);
    if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) return sys_error("utimes " + path);
  }
  return ok_status();
}

}  // namespace tarmac::baggageclaim
