#include "atc/db/gc.h"

namespace tarmac::atc::db {
namespace {

// A build that no longer needs its containers and volumes.
constexpr const char* kBuildOver =
    "b.status NOT IN ('pending', 'started')"
    " AND coalesce(b.interceptible_until, b.end_time, b.create_time) < now()";

Status collect(Result<Rows> rows, const char* col, std::vector<std::string>& into) {
  if (!rows) return std::move(rows).error();
  for (int i = 0; i < rows->size(); ++i) into.push_back((*rows)[i].str(col));
  return ok_status();
}

}  // namespace

Result<DestroyLists> GcStore::reconcile(const HandleReport& r) {
  DestroyLists out;
  int64_t grace = missing_grace_.count();
  Status s = pool_.transaction([&](Connection& c) -> Status {
    out = {};
    // Containers.
    TARMAC_TRY(c.query("DELETE FROM containers WHERE worker_name = $1 AND handle = ANY($2)",
                       r.worker, r.destroyed_containers));
    TARMAC_TRY(c.query(
        "DELETE FROM containers WHERE worker_name = $1 AND NOT (handle = ANY($2)) AND"
        " (state = 'destroying' OR missing_since < now() - $3::bigint * interval '1 millisecond')",
        r.worker, r.containers, grace));
    TARMAC_TRY(
        c.query("UPDATE containers SET missing_since = CASE WHEN handle = ANY($2) THEN NULL"
                " ELSE coalesce(missing_since, now()) END"
                " WHERE worker_name = $1 AND (missing_since IS NULL) = NOT (handle = ANY($2))",
                r.worker, r.containers));
    TARMAC_TRY(collect(c.query("SELECT handle FROM containers WHERE worker_name = $1"
                               " AND state = 'destroying' AND handle = ANY($2)",
                               r.worker, r.containers),
                       "handle", out.containers));
    TARMAC_TRY(collect(c.query("SELECT h FROM unnest($1::text[]) AS h WHERE NOT EXISTS"
                               " (SELECT 1 FROM containers c WHERE c.handle = h)",
                               r.containers),
                       "h", out.containers));

    // Volumes: a row goes only once no child row points at it.
    constexpr const char* kLeaf =
        " AND NOT EXISTS (SELECT 1 FROM volumes ch WHERE ch.parent_id = v.id)";
    TARMAC_TRY(c.query(
        std::string("DELETE FROM volumes v WHERE worker_name = $1 AND handle = ANY($2)") + kLeaf,
        r.worker, r.destroyed_volumes));
    TARMAC_TRY(c.query(
        std::string("DELETE FROM volumes v WHERE worker_name = $1 AND NOT (handle = ANY($2))"
                    " AND (state = 'destroying' OR"
                    " missing_since < now() - $3::bigint * interval '1 millisecond')") +
            kLeaf,
        r.worker, r.volumes, grace));
    TARMAC_TRY(
        c.query("UPDATE volumes SET missing_since = CASE WHEN handle = ANY($2) THEN NULL"
                " ELSE coalesce(missing_since, now()) END"
                " WHERE worker_name = $1 AND (missing_since IS NULL) = NOT (handle = ANY($2))",
                r.worker, r.volumes));
    TARMAC_TRY(collect(c.query("SELECT handle FROM volumes WHERE worker_name = $1"
                               " AND state = 'destroying' AND handle = ANY($2)",
                               r.worker, r.volumes),
                       "handle", out.volumes));
    TARMAC_TRY(collect(c.query("SELECT h FROM unnest($1::text[]) AS h WHERE NOT EXISTS"
                               " (SELECT 1 FROM volumes v WHERE v.handle = h)",
                               r.volumes),
                       "h", out.volumes));
    return ok_status();
  });
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
                  " AND (v.build_id IS NULL OR EXISTS (SELECT 1 FROM builds b"
                  " WHERE b.id = v.build_id AND ") +
      kBuildOver + "))))");
  if (!volumes) return std::move(volumes).error().wrap("mark orphaned volumes");
  n.volumes = volumes->affected();
  return n;
}

}  // namespace tarmac::atc::db
