#pragma once

#include <string>

namespace tarmac::atc::db {

// What a SQLSTATE means to a caller, as an errno: 23505 unique violation → EEXIST, 23503
// foreign key violation → ENOENT (what it points at is gone), 23514/22xxx bad data → EINVAL,
// 40001/40P01 serialization failure or deadlock → EDEADLK (retry the transaction), class 08
// and 57P01-57P03 (connection lost, server shutting down or starting) and 53xxx (out of
// resources) → EAGAIN (try again later), anything else → EIO.
int errno_for_sqlstate(const std::string& sqlstate);

}  // namespace tarmac::atc::db
