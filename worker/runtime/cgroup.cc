#include "worker/runtime/cgroup.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace tarmac::runtime {
namespace {

bool is_regular_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<CgroupDriverPtr> detect_cgroup_driver(const std::string& root) {
  struct statfs st;
  if (::statfs(root.c_str(), &st) != 0) return sys_error("detect cgroups: statfs " + root);
  // A hybrid host's empty cgroup2 sits below root (root/unified), so root itself is not it;
  // a plain directory with cgroup.controllers stands in for a cgroup2 mount in tests.
  if (st.f_type == CGROUP2_SUPER_MAGIC || is_regular_file(root + "/cgroup.controllers"))
    return make_cgroup_v2_driver(root);
  auto v1 = make_cgroup_v1_driver(root);
  if (!v1) return std::move(v1).error().wrap("detect cgroups: " + root + " is neither v1 nor v2");
  return v1;
}

}  // namespace tarmac::runtime
