#include "worker/runtime/cgroup.h"

#include <linux/magic.h>
#include <sys/statfs.h>

#include "common/fs.h"

namespace tarmac::runtime {

Result<CgroupDriverPtr> detect_cgroup_driver(const std::string& root) {
  struct statfs st;
  if (::statfs(root.c_str(), &st) != 0) return sys_error("detect cgroups: statfs " + root);
  // A plain directory with cgroup.controllers stands in for cgroup2 in tests.
  bool v2 = st.f_type == CGROUP2_SUPER_MAGIC ||
            (st.f_type != TMPFS_MAGIC && fs::exists(root + "/cgroup.controllers"));
  if (v2) return make_cgroup_v2_driver(root);
  auto v1 = make_cgroup_v1_driver(root);
  if (!v1) return std::move(v1).error().wrap("detect cgroups: " + root + " is neither v1 nor v2");
  return v1;
}

}  // namespace tarmac::runtime
