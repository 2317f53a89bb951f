#include <sys/stat.h>
#include <unistd.h>

#include "baggageclaim/driver.h"

namespace tarmac::baggageclaim {

Status make_volume_root(const std::string& path, const VolumeRecord& record,
                        const DriverContext& context) {
  if (::mkdir(path.c_str(), 0755) != 0) return sys_error("mkdir " + path);
  // Without idmapped mounts an unprivileged volume stores host ids: its root belongs to the
  // host id of container root.
  if (!record.volume.privileged && !context.idmap() &&
      ::chown(path.c_str(), context.ids.host_base, context.ids.host_base) != 0)
    return sys_error("chown " + path);
  return ok_status();
}

}  // namespace tarmac::baggageclaim
