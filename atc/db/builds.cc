#include "atc/db/builds.h"

#include "atc/db/artifacts.h"
#include "atc/db/event_chunks.h"

#include <atomic>
#include <cerrno>

namespace tarmac::atc::db {
namespace {

std::atomic<uint64_t> g_build_changes{0};

constexpr const char* kSelect =
    "SELECT b.id, b.name, t.name AS team, b.status, coalesce(b.created_by, '') AS created_by,"
    " extract(epoch FROM b.create_time)::bigint AS create_time,"
    " coalesce(extract(epoch FROM b.start_time)::bigint, 0) AS start_time,"
    " coalesce(extract(epoch FROM b.end_time)::bigint, 0) AS end_time, b.aborted,"
    " coalesce(b.plan::text, '') AS plan FROM builds b JOIN teams t ON t.id = b.team_id";

BuildRecord record(const Rows::Row& r) {
  BuildRecord b;
  b.id = r.i64("id");
  b.name = r.str("name");
  b.team = r.str("team");
  b.status = r.str("status");
  b.created_by = r.str("created_by");
  b.create_time = r.i64("create_time");
  b.start_time = r.i64("start_time");
  b.end_time = r.i64("end_time");
  b.aborted = r.boolean("aborted");
  b.plan = r.str("plan");
  return b;
}

}  // namespace

uint64_t build_changes() { return g_build_changes.load(); }

Result<BuildRecord> BuildStore::create_one_off(const std::string& team,
                                               const std::string& plan_json,
                                               const std::string& created_by,
                                               const std::vector<int64_t>& artifact_ids) {
  int64_t id = 0;
  Status made = pool_.transaction([&](Connection& conn) -> Status {
    auto r = conn.query(
        "WITH n AS (SELECT nextval(pg_get_serial_sequence('builds', 'id')) AS id)"
        " INSERT INTO builds (id, name, team_id, status, plan, created_by)"
        " SELECT n.id, n.id::text, t.id, 'pending', $2::jsonb, $3 FROM n, teams t"
        " WHERE t.name = $1 RETURNING id",
        team, plan_json, created_by);
    if (!r) return std::move(r).error();
    if (r->empty()) return Error("team " + team + " not found", ENOENT);
    id = (*r)[0].i64("id");
    return claim_artifacts(conn, id, team, artifact_ids);
  });
  if (!made.ok()) return std::move(made).error().wrap("create build");
  auto b = find(id);
  if (!b) return std::move(b).error();
  return **b;
}

Result<std::optional<BuildRecord>> BuildStore::find(int64_t id) {
  auto r = pool_.query(std::string(kSelect) + " WHERE b.id = $1", id);
  if (!r) return std::move(r).error().wrap("find build");
  if (r->empty()) return std::optional<BuildRecord>();
  return std::optional<BuildRecord>(record((*r)[0]));
}

Result<BuildPage> BuildStore::list(const std::vector<std::string>& teams, bool all, int limit,
                                   std::optional<int64_t> until) {
  auto r = pool_.query(std::string(kSelect) +
                           " WHERE ($1 OR t.name = ANY($2)) AND ($3::bigint IS NULL OR b.id < $3)"
                           " ORDER BY b.id DESC LIMIT $4",
                       all, teams, until, limit + 1);
  if (!r) return std::move(r).error().wrap("list builds");
  BuildPage page;
  for (int i = 0; i < r->size() && i < limit; ++i) page.builds.push_back(record((*r)[i]));
  if (r->size() > limit && !page.builds.empty()) page.next_until = page.builds.back().id;
  return page;
}

Status BuildStore::start(int64_t id) {
  auto r = pool_.query(
      "UPDATE builds SET status = 'started', start_time = now() WHERE id = $1 AND status = "
      "'pending'",
      id);
  if (!r) return std::move(r).error().wrap("start build");
  return ok_status();
}

Status BuildStore::finish(int64_t id, const std::string& status, int64_t interceptible_for_s) {
  auto r = pool_.query(
      "UPDATE builds SET status = $2, end_time = now(),"
      " interceptible_until = now() + $3::bigint * interval '1 second'"
      " WHERE id = $1 AND status IN ('pending', 'started')",
      id, status, interceptible_for_s);
  if (!r) return std::move(r).error().wrap("finish build");
  ++g_build_changes;
  return ok_status();
}

Result<bool> BuildStore::abort(int64_t id) {
  auto r = pool_.query(
      "UPDATE builds SET aborted = true,"
      " status = CASE WHEN status = 'pending' THEN 'aborted' ELSE status END,"
      " end_time = CASE WHEN status = 'pending' THEN now() ELSE end_time END"
      " WHERE id = $1 RETURNING status",
      id);
  if (!r) return std::move(r).error().wrap("abort build");
  if (r->empty()) return Error("abort build " + std::to_string(id) + ": not found", ENOENT);
  return (*r)[0].str("status") == "aborted";
}

Result<int> BuildStore::append_event(int64_t build_id, const std::string& type,
                                     const std::string& version, const std::string& payload,
                                     const std::string& container, int64_t offset) {
  // The counter row is the lock: concurrent writers of one build take turns, and ids are
  // dense and in order.
  auto r = pool_.query(
      "WITH n AS (UPDATE builds SET next_event_id = next_event_id + 1 WHERE id = $1"
      "  RETURNING next_event_id - 1 AS id),"
      " c AS (UPDATE containers SET process_offset = $6 WHERE $5 <> '' AND handle = $5)"
      " INSERT INTO build_events (build_id, event_id, type, version, payload)"
      " SELECT $1, n.id, $2, $3, $4 FROM n RETURNING event_id",
      build_id, type, version, payload, container, offset);
  if (!r) return std::move(r).error().wrap("save build event");
  if (r->empty())
    return Error("save build event: build " + std::to_string(build_id) + " not found", ENOENT);
  ++g_build_changes;
  return static_cast<int>((*r)[0].i64("event_id"));
}

Result<std::vector<BuildEvent>> BuildStore::events(int64_t build_id, int after, int limit) {
  // One statement, so one snapshot: a compaction committing meanwhile cannot hide events
  // (they are either still rows or already in a chunk). Chunks come whole.
  auto r = pool_.query(
      "(SELECT first_event_id AS event_id, '' AS type, '' AS version, '' AS payload,"
      "  encode(data, 'hex') AS chunk FROM build_event_chunks"
      "  WHERE build_id = $1 AND last_event_id > $2)"
      " UNION ALL"
      " (SELECT event_id, type, version, payload, NULL FROM build_events"
      "  WHERE build_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3)"
      " ORDER BY event_id",
      build_id, after, limit);
  if (!r) return std::move(r).error().wrap("read build events");
  std::vector<BuildEvent> out;
  for (int i = 0; i < r->size(); ++i) {
    auto row = (*r)[i];
    if (row.null("chunk")) {
      out.push_back({static_cast<int>(row.i64("event_id")), row.str("type"), row.str("version"),
                     row.str("payload")});
      continue;
    }
    auto packed = from_bytea_hex("\\x" + row.str("chunk"));
    if (!packed) return std::move(packed).error().wrap("build " + std::to_string(build_id));
    auto events = unpack_events(*packed);
    if (!events) return std::move(events).error().wrap("build " + std::to_string(build_id));
    for (auto& e : *events)
      if (e.event_id > after) out.push_back(std::move(e));
  }
  return out;
}

Status BuildStore::compact_events(int64_t build_id) {
  // Chunks of about this many bytes of JSON, so a reader resuming mid-build unpacks little.
  constexpr size_t kChunkBytes = 1 << 20;
  return pool_.transaction([&](Connection& conn) -> Status {
    auto r = conn.query(
        "SELECT event_id, type, version, payload FROM build_events b WHERE build_id = $1"
        " AND EXISTS (SELECT 1 FROM builds WHERE id = $1 AND status NOT IN ('pending', "
        "'started')) ORDER BY event_id FOR UPDATE",
        build_id);
    if (!r) return std::move(r).error().wrap("compact events of build " + std::to_string(build_id));
    if (r->empty()) return ok_status();
    std::vector<BuildEvent> run;
    size_t bytes = 0;
    auto flush = [&]() -> Status {
      if (run.empty()) return ok_status();
      auto w = conn.query(
          "INSERT INTO build_event_chunks (build_id, first_event_id, last_event_id, data)"
          " VALUES ($1, $2, $3, $4::bytea)",
          build_id, run.front().event_id, run.back().event_id, to_bytea_hex(pack_events(run)));
      if (!w) return std::move(w).error();
      run.clear();
      bytes = 0;
      return ok_status();
    };
    for (int i = 0; i < r->size(); ++i) {
      auto row = (*r)[i];
      run.push_back({static_cast<int>(row.i64("event_id")), row.str("type"), row.str("version"),
                     row.str("payload")});
      bytes += run.back().payload.size();
      if (bytes >= kChunkBytes) TARMAC_TRY(flush());
    }
    TARMAC_TRY(flush());
    auto d = conn.query("DELETE FROM build_events WHERE build_id = $1", build_id);
    if (!d) return std::move(d).error();
    return ok_status();
  });
}

Result<std::vector<int64_t>> BuildStore::uncompacted(int limit) {
  auto r = pool_.query(
      "SELECT DISTINCT e.build_id FROM build_events e JOIN builds b ON b.id = e.build_id"
      " WHERE b.status NOT IN ('pending', 'started') ORDER BY e.build_id LIMIT $1",
      limit);
  if (!r) return std::move(r).error().wrap("find builds to compact");
  std::vector<int64_t> out;
  for (int i = 0; i < r->size(); ++i) out.push_back((*r)[i].i64("build_id"));
  return out;
}

Result<int64_t> BuildStore::reap_logs(const LogRetention& keep) {
  if (keep.days <= 0 && keep.builds <= 0) return int64_t{0};
  auto r = pool_.query(
      "WITH ranked AS (SELECT id, end_time, row_number() OVER"
      "  (PARTITION BY team_id ORDER BY id DESC) AS newest FROM builds"
      "  WHERE status NOT IN ('pending', 'started') AND NOT logs_reaped),"
      " doomed AS (UPDATE builds SET logs_reaped = true FROM ranked"
      "  WHERE builds.id = ranked.id AND"
      "  (($1 > 0 AND ranked.end_time < now() - $1::bigint * interval '1 day')"
      "   OR ($2 > 0 AND ranked.newest > $2)) RETURNING builds.id),"
      " a AS (DELETE FROM build_events WHERE build_id IN (SELECT id FROM doomed)),"
      " b AS (DELETE FROM build_event_chunks WHERE build_id IN (SELECT id FROM doomed))"
      " SELECT count(*) AS n FROM doomed",
      keep.days, keep.builds);
  if (!r) return std::move(r).error().wrap("reap build logs");
  return (*r)[0].i64("n");
}

}  // namespace tarmac::atc::db
