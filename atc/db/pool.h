#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "atc/db/pq.h"

namespace tarmac::atc::db {

struct PoolOptions {
  std::string conninfo;
  int size = 8;
  // How long a caller waits for a free connection before EAGAIN.
  std::chrono::milliseconds acquire_timeout{10000};
};

// A bounded set of connections shared by threads. Connections are made lazily and checked
// before each use: after a PostgreSQL restart the pool reconnects by itself; a statement that
// was in flight when the server went away fails with EAGAIN and was not acknowledged.
class Pool {
 public:
  // Connects once, so a wrong address or password is reported at start.
  static Result<std::unique_ptr<Pool>> create(PoolOptions options);
  ~Pool();

  // One statement in its own transaction.
  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {});
  template <typename... A>
  Result<Rows> query(std::string_view sql, const A&... args) {
    return exec(sql, std::vector<Param>{param(args)...});
  }

  // `fn` inside BEGIN … COMMIT on one connection; rolled back if `fn` or COMMIT fails.
  // Serialization failures and deadlocks (EDEADLK) are retried a few times, as they are safe
  // to repeat.
  Status transaction(const std::function<Status(Connection&)>& fn);

  // `fn` with a connection of its own, outside any transaction (advisory locks, LISTEN).
  Status with_connection(const std::function<Status(Connection&)>& fn);

  const std::string& conninfo() const { return options_.conninfo; }

 private:
  explicit Pool(PoolOptions o) : options_(std::move(o)) {}
  Result<std::unique_ptr<Connection>> acquire();
  void release(std::unique_ptr<Connection> c);

  PoolOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;  // connections handed out or idle
};

}  // namespace tarmac::atc::db
