#include "atc/db/gc.h"

#include <unordered_set>

namespace tarmac::atc::db {
namespace {

// A build that no longer needs its containers and volumes.
constexpr const char* kBuildOver =
    "b.status NOT IN ('pending', 'started')"
    " AND coalesce(b.interceptible_until, b.end_time, b.create_time) < now()";

}  // namespace

namespace {

// One table's side of a beat. The worker's rows are read once and compared with the beat in
// memory, so a beat that changes nothing costs one indexed read; writes happen only for
// what changed, each re-checking its condition in SQL (a GC pass may run meanwhile).
Status reconcile_table(Pool& pool, const std::string& table, const std::string& worker,
                       const std::vector<std::string>& reported,
                       const std::vector<std::string>& destroyed, int64_t grace_ms,
                       std::vector<std::string>& destroy) {
  // A volume row goes only once no child row points at it.
  std::string leaf = table == "volumes"
                         ? " AND NOT EXISTS (SELECT 1 FROM volumes ch WHERE ch.parent_id = t.id)"
                         : "";
  if (!destroyed.empty())
    TARMAC_TRY(
        pool.query("DELETE FROM " + table + " t WHERE worker_name = $1 AND handle = ANY($2)" + leaf,
                   worker, destroyed));
  auto rows = pool.query(
      "SELECT handle, state, missing_since IS NOT NULL AS missing,"
      " coalesce(missing_since < now() - $2::bigint * interval '1 millisecond',"
      " false) AS expired FROM " +
          table + " WHERE worker_name = $1",
      worker, grace_ms);
  if (!rows) return std::move(rows).error();
  std::unordered_set<std::string> held(reported.begin(), reported.end());
  std::unordered_set<std::string> known;
  std::vector<std::string> gone, missing, back;
  for (int i = 0; i < rows->size(); ++i) {
    auto row = (*rows)[i];
    std::string handle = row.str("handle");
    bool destroying = row.str("state") == "destroying";
    known.insert(handle);
    if (held.count(handle)) {
      if (row.boolean("missing")) back.push_back(handle);
      if (destroying) destroy.push_back(handle);
    } else if (destroying || row.boolean("expired")) {
      gone.push_back(handle);
    } else if (!row.boolean("missing")) {
      missing.push_back(handle);
    }
  }
  if (!gone.empty())
    TARMAC_TRY(pool.query("DELETE FROM " + table +
                              " t WHERE worker_name = $1 AND handle = ANY($2) AND (state ="
                              " 'destroying' OR missing_since < now() - $3::bigint * interval"
                              " '1 millisecond')" +
                              leaf,
                          worker, gone, grace_ms));
  if (!missing.empty())
    TARMAC_TRY(pool.query("UPDATE " + table +
                              " SET missing_since = now() WHERE worker_name = $1 AND handle ="
                              " ANY($2) AND missing_since IS NULL",
                          worker, missing));
  if (!back.empty())
    TARMAC_TRY(pool.query(
        "UPDATE " + table + " SET missing_since = NULL WHERE worker_name = $1 AND handle = ANY($2)",
        worker, back));
  // Handles this worker holds that no row of it names: destroyed, unless a row (of a create
  // that has just been recorded) names it after all.
  std::vector<std::string> unknown;
  for (const auto& h : reported)
    if (!known.count(h)) unknown.push_back(h);
  if (unknown.empty()) return ok_status();
  auto recorded = pool.query("SELECT handle FROM " + table + " WHERE handle = ANY($1)", unknown);
  if (!recorded) return std::move(recorded).error();
  std::unordered_set<std::string> now_known;
  for (int i = 0; i < recorded->size(); ++i) now_known.insert((*recorded)[i].str("handle"));
  for (auto& h : unknown)
    if (!now_known.count(h)) destroy.push_back(h);
  return ok_status();
}

}  // namespace

Result<DestroyLists> GcStore::reconcile(const HandleReport& r) {
  DestroyLists out;
  int64_t grace = missing_grace_.count();
  Status s = reconcile_table(pool_, "containers", r.worker, r.containers, r.destroyed_containers,
                             grace, out.containers);
  if (s.ok())
    s = reconcile_table(pool_, "volumes", r.worker, r.volumes, r.destroyed_volumes, grace,
                        out.volumes);
  if (!s.ok()) return std::move(s).error().wrap("reconcile handles of worker " + r.worker);
  return out;
}

Result<OrphanCounts> GcStore::mark_orphans() {
  OrphanCounts n;
  auto containers = pool_.exec(
      std::string("UPDATE containers c SET state = 'destroying'"
                  " WHERE c.state = 'failed' OR (c.state = 'created' AND (c.build_id IS NULL"
                  " OR EXISTS (SELECT 1 FROM builds b WHERE b.id = c.build_id AND ") +
      kBuildOver + ")))");
  if (!containers) return std::move(containers).error().wrap("mark orphaned containers");
  n.containers = containers->affected();
  auto volumes = pool_.exec(
      std::string("UPDATE volumes v SET state = 'destroying'"
                  " WHERE NOT EXISTS (SELECT 1 FROM volumes ch WHERE ch.parent_id = v.id)"
                  " AND (v.state = 'failed' OR (v.state = 'created'"
                  " AND v.type IN ('container', 'artifact') AND v.container_id IS NULL"
                  " AND v.worker_artifact_id IS NULL"
                  " AND (v.build_id IS NULL OR EXISTS (SELECT 1 FROM builds b"
                  " WHERE b.id = v.build_id AND ") +
      kBuildOver + "))))");
  if (!volumes) return std::move(volumes).error().wrap("mark orphaned volumes");
  n.volumes = volumes->affected();
  return n;
}

}  // namespace tarmac::atc::db
