#include "atc/db/pool.h"

#include <cerrno>

namespace tarmac::atc::db {

Result<std::unique_ptr<Pool>> Pool::create(PoolOptions options) {
  if (options.size < 1) return Error("database pool: size must be at least 1", EINVAL);
  std::unique_ptr<Pool> pool(new Pool(std::move(options)));
  auto c = Connection::connect(pool->options_.conninfo);
  if (!c) return std::move(c).error();
  pool->idle_.push_back(std::move(*c));
  pool->open_ = 1;
  return pool;
}

Pool::~Pool() = default;

Result<std::unique_ptr<Connection>> Pool::acquire() {
  std::unique_ptr<Connection> c;
  {
    std::unique_lock lock(mu_);
    bool got = cv_.wait_for(lock, options_.acquire_timeout,
                            [&] { return !idle_.empty() || open_ < options_.size; });
    if (!got)
      return Error("database pool: all " + std::to_string(options_.size) +
                       " connections busy for " + std::to_string(options_.acquire_timeout.count()) +
                       " ms",
                   EAGAIN);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;
    }
  }
  if (c && !c->broken()) return c;
  // A new slot, or a connection the server dropped: (re)connect outside the lock.
  auto fresh = Connection::connect(options_.conninfo);
  if (!fresh) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return std::move(fresh).error();
  }
  return std::move(*fresh);
}

void Pool::release(std::unique_ptr<Connection> c) {
  std::lock_guard lock(mu_);
  if (c && !c->broken())
    idle_.push_back(std::move(c));
  else
    --open_;
  cv_.notify_one();
}

Result<Rows> Pool::exec(std::string_view sql, const std::vector<Param>& params) {
  auto c = acquire();
  if (!c) return std::move(c).error();
  auto rows = (*c)->exec(sql, params);
  release(std::move(*c));
  return rows;
}

Status Pool::with_connection(const std::function<Status(Connection&)>& fn) {
  auto c = acquire();
  if (!c) return std::move(c).error();
  Status s = fn(**c);
  release(std::move(*c));
  return s;
}

Status Pool::transaction(const std::function<Status(Connection&)>& fn) {
  constexpr int kAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    Status s = with_connection([&](Connection& c) -> Status {
      if (auto b = c.exec("BEGIN"); !b) return std::move(b).error();
      Status body = fn(c);
      if (body.ok()) {
        auto commit = c.exec("COMMIT");
        if (commit) return ok_status();
        body = std::move(commit).error();
      }
      (void)c.exec("ROLLBACK");
      return body;
    });
    if (s.ok() || s.error().errnum() != EDEADLK || attempt == kAttempts) return s;
  }
}

}  // namespace tarmac::atc::db
