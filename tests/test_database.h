#pragma once

#include <memory>
#include <string>

#include "atc/db/embedded_postgres.h"
#include "atc/db/pool.h"

namespace tarmac::testing {

// A real PostgreSQL for the tests of one process: initdb'd into a temp dir on first use,
// stopped and removed at exit. Tests that restart or stop the server make their own
// PostgresServer instead, so the shared one stays up.
class PostgresServer {
 public:
  // Fails the calling test (ADD_FAILURE) and returns null if PostgreSQL cannot start.
  static std::unique_ptr<PostgresServer> start();
  ~PostgresServer();

  atc::db::EmbeddedPostgres& pg() { return *pg_; }
  // A new, empty database on this server; its conninfo.
  std::string fresh_database();
  // The same, by name (for programs that take --postgres-* flags).
  std::string fresh_database_name();

 private:
  std::string dir_;
  std::unique_ptr<atc::db::EmbeddedPostgres> pg_;
  int databases_ = 0;
};

PostgresServer& shared_postgres();

// A pool on a fresh database of the shared server, migrated unless told not to.
std::unique_ptr<atc::db::Pool> fresh_pool(bool migrated = true, int size = 4);

}  // namespace tarmac::testing
