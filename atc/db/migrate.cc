#include "atc/db/migrate.h"

#include <cerrno>

namespace tarmac::atc::db {
namespace {

// pg_advisory_lock key shared by every web node: "tarmac migrate".
constexpr int64_t kMigrateLock = 0x7461726d6163'01;

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version bigint PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

Result<int64_t> current_version(Connection& c) {
  auto rows = c.exec("SELECT coalesce(max(version), 0) AS v FROM schema_migrations");
  if (!rows) return std::move(rows).error();
  return (*rows)[0].i64("v");
}

Status check_order(const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i)
    if (migrations[i].version <= migrations[i - 1].version)
      return Error(
          "migration " + migrations[i].name + " does not come after " + migrations[i - 1].name,
          EINVAL);
  return ok_status();
}

}  // namespace

Result<MigrationReport> migrate(Pool& pool, const std::vector<Migration>& migrations) {
  TARMAC_RETURN_IF_ERROR(check_order(migrations), "migrate");
  int64_t newest = migrations.empty() ? 0 : migrations.back().version;
  MigrationReport report;
  Status s = pool.with_connection([&](Connection& c) -> Status {
    // Session-level: released on unlock or when the connection goes.
    if (auto r = c.query("SELECT pg_advisory_lock($1)", kMigrateLock); !r)
      return std::move(r).error().wrap("take the migration lock");
    Status body = [&]() -> Status {
      if (auto r = c.exec(kCreateTable); !r) return std::move(r).error();
      auto from = current_version(c);
      if (!from) return std::move(from).error();
      report.from = report.to = *from;
      if (*from > newest)
        return Error("the database schema is at version " + std::to_string(*from) +
                         ", newer than this tarmac knows (" + std::to_string(newest) +
                         "): run a tarmac at least as new as the one that migrated it",
                     ENOTSUP);
      for (const auto& m : migrations) {
        if (m.version <= *from) continue;
        Status applied = [&]() -> Status {
          TARMAC_TRY(c.exec("BEGIN"));
          Status step = c.exec_script(m.sql);
          auto then = [&step](Result<Rows> r) {
            if (step.ok() && !r.ok()) step = std::move(r).error();
          };
          if (step.ok())
            then(c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version,
                         m.name));
          if (step.ok()) then(c.exec("COMMIT"));
          if (!step.ok()) (void)c.exec("ROLLBACK");
          return step;
        }();
        if (!applied.ok()) return std::move(applied).error().wrap("apply " + m.name);
        report.applied.push_back(m.name);
        report.to = m.version;
      }
      return ok_status();
    }();
    (void)c.query("SELECT pg_advisory_unlock($1)", kMigrateLock);
    return body;
  });
  if (!s.ok()) return std::move(s).error().wrap("migrate");
  return report;
}

Result<int64_t> schema_version(Pool& pool) {
  auto exists = pool.exec("SELECT to_regclass('schema_migrations') IS NOT NULL AS e");
  if (!exists) return std::move(exists).error().wrap("read schema version");
  if (!(*exists)[0].boolean("e")) return int64_t{0};
  auto v = pool.exec("SELECT coalesce(max(version), 0) AS v FROM schema_migrations");
  if (!v) return std::move(v).error().wrap("read schema version");
  return (*v)[0].i64("v");
}

}  // namespace tarmac::atc::db
