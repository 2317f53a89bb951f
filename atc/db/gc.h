#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "atc/db/pool.h"

namespace tarmac::atc::db {

// What a worker's beat says about its containers and volumes.
struct HandleReport {
  std::string worker;
  std::vector<std::string> containers, volumes;  // every handle it holds
  std::vector<std::string> destroyed_containers, destroyed_volumes, failed;
};

struct DestroyLists {
  std::vector<std::string> containers, volumes;
};

struct OrphanCounts {
  int64_t containers = 0, volumes = 0;
};

// The database side of garbage collection: containers and volumes go creating → created →
// destroying (or failed) → gone. Only the worker destroys; the database says what and
// forgets a row once the worker no longer holds it.
class GcStore {
 public:
  // `missing_grace`: how long a created container or volume may be missing from its worker's
  // beats before its row is dropped (a beat can race a create).
  GcStore(Pool& pool, std::chrono::milliseconds missing_grace)
      : pool_(pool), missing_grace_(missing_grace) {}

  // Reconciles one beat: rows of destroyed handles go; destroying rows the worker no longer
  // holds go; rows missing longer than the grace go; the answer lists the destroying handles
  // it still holds and the handles the database does not know.
  Result<DestroyLists> reconcile(const HandleReport& report);

  // Finds orphans in SQL and marks them destroying: containers whose build is gone or over
  // (past its intercept time) and failed ones; volumes, leaves first, whose container is gone
  // and whose build (for artifacts) is gone or over, and failed ones.
  Result<OrphanCounts> mark_orphans();

 private:
  Pool& pool_;
  std::chrono::milliseconds missing_grace_;
};

}  // namespace tarmac::atc::db
