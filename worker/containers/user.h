#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace tarmac::containers {

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

// "" and "root" are 0:0; "1000" and "1000:50" are taken as numbers; a name is looked up in
// the image's /etc/passwd (read inside `rootfs`, so the image's symlinks cannot point the
// lookup at the host's files).
Result<ResolvedUser> resolve_user(const std::string& rootfs, const std::string& user);

}  // namespace tarmac::containers
