#include "atc/db/artifacts.h"

#include <cerrno>

namespace tarmac::atc::db {
namespace {

constexpr const char* kSelect =
    "SELECT a.id, a.name, t.name AS team, coalesce(a.build_id, 0) AS build_id,"
    " extract(epoch FROM a.created_at)::bigint AS created_at,"
    " coalesce(v.handle, '') AS volume_handle, coalesce(v.worker_name, '') AS worker_name"
    " FROM worker_artifacts a JOIN teams t ON t.id = a.team_id"
    " LEFT JOIN volumes v ON v.worker_artifact_id = a.id AND v.state = 'created'";

ArtifactRecord record(const Rows::Row& r) {
  ArtifactRecord a;
  a.id = r.i64("id");
  a.name = r.str("name");
  a.team = r.str("team");
  a.build_id = r.i64("build_id");
  a.created_at = r.i64("created_at");
  a.volume_handle = r.str("volume_handle");
  a.worker_name = r.str("worker_name");
  return a;
}

}  // namespace

Result<ArtifactRecord> ArtifactStore::begin_upload(const std::string& team,
                                                   const std::string& worker,
                                                   const std::string& volume_handle) {
  auto r = pool_.query(
      "WITH a AS (INSERT INTO worker_artifacts (team_id) SELECT id FROM teams WHERE name = $1"
      "  RETURNING id, created_at, team_id),"
      " v AS (INSERT INTO volumes (handle, worker_name, state, type, team_id,"
      "  worker_artifact_id) SELECT $3, $2, 'creating', 'artifact', a.team_id, a.id FROM a)"
      " SELECT id, extract(epoch FROM created_at)::bigint AS created_at FROM a",
      team, worker, volume_handle);
  if (!r) return std::move(r).error().wrap("create artifact");
  if (r->empty()) return Error("create artifact: team " + team + " not found", ENOENT);
  ArtifactRecord a;
  a.id = (*r)[0].i64("id");
  a.created_at = (*r)[0].i64("created_at");
  a.team = team;
  a.volume_handle = volume_handle;
  a.worker_name = worker;
  return a;
}

Status ArtifactStore::complete_upload(const ArtifactRecord& artifact) {
  auto r = pool_.query(
      "UPDATE volumes SET state = 'created' WHERE handle = $1 AND state = "
      "'creating'",
      artifact.volume_handle);
  if (!r) return std::move(r).error().wrap("artifact " + std::to_string(artifact.id));
  if (r->affected() != 1)
    return Error("artifact " + std::to_string(artifact.id) + ": its volume is gone", ENOENT);
  return ok_status();
}

Status ArtifactStore::fail_upload(const ArtifactRecord& artifact) {
  auto r = pool_.query(
      "WITH v AS (UPDATE volumes SET state = 'failed' WHERE handle = $2)"
      " DELETE FROM worker_artifacts WHERE id = $1",
      artifact.id, artifact.volume_handle);
  if (!r) return std::move(r).error().wrap("artifact " + std::to_string(artifact.id));
  return ok_status();
}

Result<std::optional<ArtifactRecord>> ArtifactStore::find(int64_t id) {
  auto r = pool_.query(std::string(kSelect) + " WHERE a.id = $1 AND v.handle IS NOT NULL", id);
  if (!r) return std::move(r).error().wrap("find artifact");
  if (r->empty()) return std::optional<ArtifactRecord>();
  return std::optional<ArtifactRecord>(record((*r)[0]));
}

Result<std::vector<ArtifactRecord>> ArtifactStore::for_build(int64_t build_id) {
  auto r = pool_.query(std::string(kSelect) +
                           " WHERE a.build_id = $1 AND a.name <> '' AND v.handle IS NOT NULL"
                           " ORDER BY a.id",
                       build_id);
  if (!r) return std::move(r).error().wrap("list artifacts");
  std::vector<ArtifactRecord> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(record((*r)[i]));
  return out;
}

Result<ArtifactRecord> ArtifactStore::keep_output(int64_t build_id, const std::string& name,
                                                  const std::string& volume_handle) {
  // Once per build and name, even when a resumed build keeps it again.
  auto kept = pool_.query(
      "SELECT a.id FROM worker_artifacts a JOIN volumes v ON v.worker_artifact_id = a.id"
      " WHERE a.build_id = $1 AND a.name = $2 AND v.handle = $3",
      build_id, name, volume_handle);
  if (!kept) return std::move(kept).error().wrap("keep artifact " + name);
  if (!kept->empty()) {
    auto found = find((*kept)[0].i64("id"));
    if (found && *found) return **found;
  }
  auto r = pool_.query(
      "WITH a AS (INSERT INTO worker_artifacts (name, team_id, build_id)"
      "  SELECT $2, team_id, id FROM builds WHERE id = $1 RETURNING id),"
      " v AS (UPDATE volumes SET worker_artifact_id = a.id FROM a WHERE handle = $3"
      "  RETURNING volumes.id)"
      " SELECT a.id, (SELECT count(*) FROM v) AS volumes FROM a",
      build_id, name, volume_handle);
  if (!r) return std::move(r).error().wrap("keep artifact " + name);
  if (r->empty() || (*r)[0].i64("volumes") != 1)
    return Error("keep artifact " + name + ": build or volume " + volume_handle + " not found",
                 ENOENT);
  auto found = find((*r)[0].i64("id"));
  if (!found) return std::move(found).error();
  if (!*found) return Error("keep artifact " + name + ": volume is not created", ENOENT);
  return **found;
}

Result<int64_t> ArtifactStore::expire(int64_t ttl_s) {
  auto r = pool_.query(
      "DELETE FROM worker_artifacts a WHERE"
      " (a.build_id IS NULL AND a.created_at < now() - $1::bigint * interval '1 second')"
      " OR EXISTS (SELECT 1 FROM builds b WHERE b.id = a.build_id"
      "  AND b.status NOT IN ('pending', 'started')"
      "  AND coalesce(b.end_time, b.create_time) < now() - $1::bigint * interval '1 second')",
      ttl_s);
  if (!r) return std::move(r).error().wrap("expire artifacts");
  return r->affected();
}

Status claim_artifacts(Connection& conn, int64_t build_id, const std::string& team,
                       const std::vector<int64_t>& ids) {
  for (int64_t id : ids) {
    auto r = conn.query(
        "UPDATE worker_artifacts a SET build_id = $1 FROM teams t"
        " WHERE a.id = $2 AND t.id = a.team_id AND t.name = $3 AND a.build_id IS NULL"
        " AND EXISTS (SELECT 1 FROM volumes v WHERE v.worker_artifact_id = a.id"
        "  AND v.state = 'created')",
        build_id, id, team);
    if (!r) return std::move(r).error().wrap("claim artifact " + std::to_string(id));
    if (r->affected() != 1)
      return Error("artifact " + std::to_string(id) +
                       ": not found (not this team's, not uploaded whole, or already used by "
                       "another build)",
                   ENOENT);
  }
  return ok_status();
}

}  // namespace tarmac::atc::db
