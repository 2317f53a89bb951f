#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "atc/db/pq.h"
#include "common/result.h"

namespace tarmac::atc::engine {

// The builds this engine runs, held as PostgreSQL advisory locks on a connection of its
// own. A web node that dies lets go of them all at once (its session ends), so another
// engine, or this node's next start, can tell a build whose engine is gone from one that is
// running elsewhere, and resume it.
class BuildLocks {
 public:
  explicit BuildLocks(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // Whether this engine now holds the build (false: another engine does).
  Result<bool> try_hold(int64_t build_id);
  void release(int64_t build_id);
  bool holds(int64_t build_id);

 private:
  // Connects if needed; after a lost connection, takes the held locks again.
  Status connected();

  std::string conninfo_;
  std::mutex mu_;
  std::unique_ptr<db::Connection> conn_;
  std::set<int64_t> held_;
};

}  // namespace tarmac::atc::engine
