#include "atc/db/sqlstate.h"

#include <cerrno>

namespace tarmac::atc::db {

int errno_for_sqlstate(const std::string& s) {
  if (s == "23505") return EEXIST;
  if (s == "23503") return ENOENT;
  if (s == "23514" || s == "23502" || s.rfind("22", 0) == 0) return EINVAL;
  if (s == "40001" || s == "40P01") return EDEADLK;
  if (s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03" ||
      s.rfind("53", 0) == 0)
    return EAGAIN;
  return EIO;
}

}  // namespace tarmac::atc::db
