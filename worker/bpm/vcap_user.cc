#include "worker/bpm/vcap_user.h"

#include <pwd.h>

#include <cerrno>
#include <vector>

namespace tarmac::bpm {

Result<VcapUser> lookup_user(const std::string& name) {
  struct passwd pw, *found = nullptr;
  std::vector<char> buf(16384);
  int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return sys_error("look up user " + name, rc);
  if (!found)
    return Error("user \"" + name + "\" not found: bpm runs jobs as " + name +
                 " (create it with: useradd --system " + name + ")");
  return VcapUser{pw.pw_uid, pw.pw_gid};
}

}  // namespace tarmac::bpm
