#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "atc/db/pool.h"

namespace tarmac::atc::db {

struct Migration {
  int64_t version;
  std::string name;  // the file: "0001_init.up.sql"
  std::string sql;
};

// The migrations under migrations/, compiled into the binary, in order.
const std::vector<Migration>& known_migrations();

struct MigrationReport {
  int64_t from = 0, to = 0;
  std::vector<std::string> applied;  // file names
};

// Brings the schema up to the newest of `migrations`: each missing one in its own
// transaction, recorded in schema_migrations. Web nodes starting together take turns (an
// advisory lock). A database already past the newest known version is refused (ENOTSUP):
// this binary is older than the schema, and would misread it.
Result<MigrationReport> migrate(Pool& pool,
                                const std::vector<Migration>& migrations = known_migrations());

// The newest applied version; 0 for an empty database.
Result<int64_t> schema_version(Pool& pool);

}  // namespace tarmac::atc::db
