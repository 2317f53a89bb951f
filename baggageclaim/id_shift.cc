#include "baggageclaim/id_shift.h"

#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <optional>

namespace tarmac::baggageclaim {
namespace {

// nftw's callback takes no context: the walk's state lives here, one walk per thread.
thread_local int64_t tl_delta = 0;
thread_local std::optional<Error> tl_error;

int shift_one(const char* path, const struct stat* st, int type, struct FTW*) {
  int64_t uid = int64_t{st->st_uid} + tl_delta, gid = int64_t{st->st_gid} + tl_delta;
  if (uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe) {
    tl_error = Error(std::string("shift ids of ") + path + ": owner " + std::to_string(st->st_uid) +
                     " out of range");
    return 1;
  }
  // A chown removes file capabilities: what the file had goes back on after it.
  char cap[64];
  ssize_t cap_size = type == FTW_F && S_ISREG(st->st_mode)
                         ? ::lgetxattr(path, "security.capability", cap, sizeof(cap))
                         : -1;
  if (::lchown(path, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
    tl_error = sys_error(std::string("shift ids: chown ") + path);
    return 1;
  }
  if (cap_size > 0 && ::lsetxattr(path, "security.capability", cap, cap_size, 0) != 0) {
    tl_error = sys_error(std::string("shift ids: restore capabilities of ") + path);
    return 1;
  }
  if (type != FTW_SL && (st->st_mode & (S_ISUID | S_ISGID)) &&
      ::chmod(path, st->st_mode & 07777) != 0) {
    tl_error = sys_error(std::string("shift ids: chmod ") + path);
    return 1;
  }
  return 0;
}

}  // namespace

Status shift_ids(const std::string& dir, int64_t delta) {
  if (delta == 0) return ok_status();
  tl_delta = delta;
  tl_error.reset();
  if (::nftw(dir.c_str(), shift_one, 64, FTW_PHYS | FTW_MOUNT) != 0) {
    if (tl_error) return *tl_error;
    return sys_error("shift ids under " + dir);
  }
  return ok_status();
}

}  // namespace tarmac::baggageclaim
