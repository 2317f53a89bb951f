#include "atc/db/builds.h"

#include "atc/db/artifacts.h"

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
                                     const std::string& version, const std::string& payload) {
  // The counter row is the lock: concurrent writers of one build take turns, and ids are
  // dense and in order.
  auto r = pool_.query(
      "WITH n AS (UPDATE builds SET next_event_id = next_event_id + 1 WHERE id = $1"
      "  RETURNING next_event_id - 1 AS id)"
      " INSERT INTO build_events (build_id, event_id, type, version, payload)"
      " SELECT $1, n.id, $2, $3, $4 FROM n RETURNING event_id",
      build_id, type, version, payload);
  if (!r) return std::move(r).error().wrap("save build event");
  if (r->empty())
    return Error("save build event: build " + std::to_string(build_id) + " not found", ENOENT);
  ++g_build_changes;
  return static_cast<int>((*r)[0].i64("event_id"));
}

Result<std::vector<BuildEvent>> BuildStore::events(int64_t build_id, int after, int limit) {
  auto r = pool_.query(
      "SELECT event_id, type, version, payload FROM build_events"
      " WHERE build_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3",
      build_id, after, limit);
  if (!r) return std::move(r).error().wrap("read build events");
  std::vector<BuildEvent> out;
  for (int i = 0; i < r->size(); ++i)
    out.push_back({static_cast<int>((*r)[i].i64("event_id")), (*r)[i].str("type"),
                   (*r)[i].str("version"), (*r)[i].str("payload")});
  return out;
}

}  // namespace tarmac::atc::db
