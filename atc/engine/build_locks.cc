#include "atc/engine/build_locks.h"

#include <spdlog/spdlog.h>

namespace tarmac::atc::engine {
namespace {

// The first key of the two-key advisory locks: "builds". The one-key locks (migrations,
// periodic components) live in another key space.
constexpr int kBuildLocks = 1;

}  // namespace

Status BuildLocks::connected() {
  if (conn_) return ok_status();
  auto c = db::Connection::connect(conninfo_);
  if (!c) return std::move(c).error().wrap("build locks");
  conn_ = std::move(*c);
  // The session that held them is gone: another engine may have taken a build meanwhile.
  for (auto it = held_.begin(); it != held_.end();) {
    auto r = conn_->query("SELECT pg_try_advisory_lock($1, $2::int) AS got", kBuildLocks, *it);
    if (r && (*r)[0].boolean("got")) {
      ++it;
      continue;
    }
    spdlog::error("engine: build {}: lost its lock with the database connection", *it);
    it = held_.erase(it);
  }
  return ok_status();
}

Result<bool> BuildLocks::try_hold(int64_t build_id) {
  std::lock_guard lock(mu_);
  if (held_.count(build_id)) return true;
  auto lock_query = [&] {
    return conn_->query("SELECT pg_try_advisory_lock($1, $2::int) AS got", kBuildLocks, build_id);
  };
  TARMAC_TRY(connected());
  auto r = lock_query();
  if (!r) {
    // A connection the database dropped: once more on a new one (which takes back the
    // locks held on the old).
    conn_.reset();
    TARMAC_TRY(connected());
    r = lock_query();
  }
  if (!r) return std::move(r).error().wrap("lock build " + std::to_string(build_id));
  if (!(*r)[0].boolean("got")) return false;
  held_.insert(build_id);
  return true;
}

void BuildLocks::release(int64_t build_id) {
  std::lock_guard lock(mu_);
  if (!held_.erase(build_id) || !conn_) return;
  (void)conn_->query("SELECT pg_advisory_unlock($1, $2::int)", kBuildLocks, build_id);
}

bool BuildLocks::holds(int64_t build_id) {
  std::lock_guard lock(mu_);
  return held_.count(build_id) > 0;
}

}  // namespace tarmac::atc::engine
