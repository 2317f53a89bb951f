#include "atc/db/components.h"

namespace tarmac::atc::db {

Result<bool> run_if_due(Pool& pool, const std::string& name, std::chrono::milliseconds interval,
                        const std::function<Status()>& fn) {
  bool ran = false;
  // The lock is held on this connection while `fn` uses others of the pool.
  Status s = pool.with_connection([&](Connection& c) -> Status {
    auto lock = c.query("SELECT pg_try_advisory_lock(hashtext('tarmac:' || $1)) AS got", name);
    if (!lock) return std::move(lock).error();
    if (!(*lock)[0].boolean("got")) return ok_status();
    Status body = [&]() -> Status {
      TARMAC_TRY(c.query("INSERT INTO components (name) VALUES ($1) ON CONFLICT DO NOTHING", name));
      auto due = c.query(
          "SELECT last_ran IS NULL OR last_ran + $2 * interval '1 millisecond' <= now() AS due"
          " FROM components WHERE name = $1",
          name, static_cast<int64_t>(interval.count()));
      if (!due) return std::move(due).error();
      if (due->empty() || !(*due)[0].boolean("due")) return ok_status();
      // Recorded first: a pass that fails is not retried by every node at once.
      TARMAC_TRY(c.query("UPDATE components SET last_ran = now() WHERE name = $1", name));
      ran = true;
      return fn();
    }();
    (void)c.query("SELECT pg_advisory_unlock(hashtext('tarmac:' || $1))", name);
    return body;
  });
  if (!s.ok()) return std::move(s).error().wrap("run " + name);
  return ran;
}

}  // namespace tarmac::atc::db
