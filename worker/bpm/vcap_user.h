#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace tarmac::bpm {

// The user BOSH jobs run as.
struct VcapUser {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks `name` ("vcap") up in the host's user database.
Result<VcapUser> lookup_user(const std::string& name = "vcap");

}  // namespace tarmac::bpm
