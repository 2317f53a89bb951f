#include "atc/db/workers.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <functional>

namespace tarmac::atc::db {
namespace {

namespace v1 = registry::v1;

// A worker row as WorkerRecord reads it; unqualified, so it serves SELECT and RETURNING alike
// (a beat is one round trip).
constexpr const char* kColumns =
    " name, address, platform, tags,"
    " coalesce((SELECT t.name FROM teams t WHERE t.id = workers.team_id), '') AS team,"
    " resource_types::text AS resource_types, version, active_containers, active_volumes,"
    " active_tasks, start_time, ephemeral, state, heartbeat_interval_ms, ttl_ms,"
    " (extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms";

std::string select_workers(const std::string& rest) {
  return std::string("SELECT") + kColumns + " FROM workers " + rest;
}

// Containers of builds that have not finished hold a draining worker.
constexpr const char* kBusy =
    "EXISTS (SELECT 1 FROM containers c JOIN builds b ON b.id = c.build_id"
    " WHERE c.worker_name = w.name AND b.status IN ('pending', 'started'))";

WorkerRecord record(const Rows::Row& r) {
  WorkerRecord w;
  v1::WorkerInfo& i = w.info;
  i.set_name(r.str("name"));
  i.set_address(r.str("address"));
  i.set_platform(r.str("platform"));
  for (auto& t : r.strings("tags")) i.add_tags(t);
  w.team = r.str("team");
  i.set_team(w.team);
  auto types = nlohmann::json::parse(r.str("resource_types"), nullptr, false);
  if (types.is_array())
    for (const auto& t : types) {
      auto* rt = i.add_resource_types();
      rt->set_type(t.value("type", ""));
      rt->set_image(t.value("image", ""));
      rt->set_version(t.value("version", ""));
      rt->set_privileged(t.value("privileged", false));
      rt->set_unique_version_history(t.value("unique_version_history", false));
    }
  i.set_version(r.str("version"));
  i.set_active_containers(static_cast<int32_t>(r.i64("active_containers")));
  i.set_active_volumes(static_cast<int32_t>(r.i64("active_volumes")));
  i.set_active_tasks(static_cast<int32_t>(r.i64("active_tasks")));
  i.set_start_time(r.i64("start_time"));
  i.set_ephemeral(r.boolean("ephemeral"));
  i.set_state(parse_state(r.str("state")));
  i.set_heartbeat_interval_ms(r.i64("heartbeat_interval_ms"));
  i.set_ttl_ms(r.i64("ttl_ms"));
  w.expires_at = r.i64("expires_ms");
  return w;
}

// The silence after which a worker is stalled: what it asked for, or three beats.
int64_t ttl_ms(const v1::WorkerInfo& info) {
  if (info.ttl_ms() > 0) return info.ttl_ms();
  int64_t interval = info.heartbeat_interval_ms() > 0 ? info.heartbeat_interval_ms() : 30000;
  return 3 * interval;
}

Result<std::vector<std::string>> names(Result<Rows> rows) {
  if (!rows) return std::move(rows).error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back((*rows)[i].str("name"));
  return out;
}

Error not_found(const std::string& name) {
  return Error("worker \"" + name + "\" not found", ENOENT);
}

}  // namespace

nlohmann::json resource_types_json(const v1::WorkerInfo& info) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& rt : info.resource_types())
    out.push_back({{"type", rt.type()},
                   {"image", rt.image()},
                   {"version", rt.version()},
                   {"privileged", rt.privileged()},
                   {"unique_version_history", rt.unique_version_history()}});
  return out;
}

std::string state_name(v1::WorkerState s) {
  switch (s) {
    case v1::STALLED:
      return "stalled";
    case v1::LANDING:
      return "landing";
    case v1::LANDED:
      return "landed";
    case v1::RETIRING:
      return "retiring";
    default:
      return "running";
  }
}

v1::WorkerState parse_state(const std::string& s) {
  if (s == "stalled") return v1::STALLED;
  if (s == "landing") return v1::LANDING;
  if (s == "landed") return v1::LANDED;
  if (s == "retiring") return v1::RETIRING;
  return v1::RUNNING;
}

Result<WorkerRecord> WorkerStore::save(const v1::WorkerInfo& info) {
  std::string state = info.state() == v1::LANDING || info.state() == v1::RETIRING
                          ? state_name(info.state())
                          : "running";
  std::optional<std::string> team;
  if (!info.team().empty()) team = info.team();
  auto r = pool_.query(
      "WITH team AS (SELECT id FROM teams WHERE name = $5)"
      " INSERT INTO workers (name, address, platform, tags, team_id, resource_types, version,"
      "  active_containers, active_volumes, active_tasks, start_time, ephemeral, state,"
      "  heartbeat_interval_ms, ttl_ms, expires_at)"
      " SELECT $1, $2, $3, $4, (SELECT id FROM team), $6::jsonb, $7, $8, $9, $10, $11, $12,"
      "  $13, $14, $15::bigint, now() + $15::bigint * interval '1 millisecond'"
      " WHERE $5::text IS NULL OR EXISTS (SELECT 1 FROM team)"
      " ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address,"
      "  platform = EXCLUDED.platform, tags = EXCLUDED.tags, team_id = EXCLUDED.team_id,"
      "  resource_types = EXCLUDED.resource_types, version = EXCLUDED.version,"
      "  active_containers = EXCLUDED.active_containers,"
      "  active_volumes = EXCLUDED.active_volumes, active_tasks = EXCLUDED.active_tasks,"
      "  start_time = EXCLUDED.start_time, ephemeral = EXCLUDED.ephemeral,"
      "  state = EXCLUDED.state, heartbeat_interval_ms = EXCLUDED.heartbeat_interval_ms,"
      "  ttl_ms = EXCLUDED.ttl_ms, expires_at = EXCLUDED.expires_at, registered_at = now()"
      " RETURNING" +
          std::string(kColumns),
      info.name(), info.address(), info.platform().empty() ? std::string("linux") : info.platform(),
      std::vector<std::string>(info.tags().begin(), info.tags().end()), team,
      resource_types_json(info).dump(), info.version(), info.active_containers(),
      info.active_volumes(), info.active_tasks(), info.start_time(), info.ephemeral(), state,
      info.heartbeat_interval_ms(), ttl_ms(info));
  if (!r) return std::move(r).error().wrap("save worker " + info.name());
  if (r->empty())
    return Error("save worker " + info.name() + ": team \"" + info.team() + "\" not found", ENOENT);
  return record((*r)[0]);
}

Result<WorkerRecord> WorkerStore::beat(const v1::WorkerInfo& info) {
  std::string stated = state_name(info.state());
  auto r = pool_.query(
      "UPDATE workers SET address = $2, active_containers = $3, active_volumes = $4,"
      " active_tasks = $5, heartbeat_interval_ms = $6, ttl_ms = $7::bigint,"
      " expires_at = now() + $7::bigint * interval '1 millisecond',"
      " state = CASE WHEN state IN ('landing', 'retiring', 'landed') THEN state"
      "  WHEN $8::text IN ('landing', 'retiring') THEN $8 ELSE 'running' END"
      " WHERE name = $1 RETURNING" +
          std::string(kColumns),
      info.name(), info.address(), info.active_containers(), info.active_volumes(),
      info.active_tasks(), info.heartbeat_interval_ms(), ttl_ms(info), stated);
  if (!r) return std::move(r).error().wrap("heartbeat of worker " + info.name());
  if (r->empty()) return not_found(info.name()).wrap("heartbeat");
  return record((*r)[0]);
}

Result<std::optional<WorkerRecord>> WorkerStore::find(const std::string& name) {
  auto r = pool_.query(select_workers("WHERE name = $1"), name);
  if (!r) return std::move(r).error().wrap("find worker " + name);
  if (r->empty()) return std::optional<WorkerRecord>();
  return std::optional<WorkerRecord>(record((*r)[0]));
}

Result<std::vector<WorkerRecord>> WorkerStore::list() {
  auto r = pool_.exec(select_workers("ORDER BY name"));
  if (!r) return std::move(r).error().wrap("list workers");
  std::vector<WorkerRecord> out;
  for (int i = 0; i < r->size(); ++i) out.push_back(record((*r)[i]));
  return out;
}

Result<std::vector<WorkerRecord>> WorkerStore::available(const std::string& team,
                                                         const std::string& platform,
                                                         const std::vector<std::string>& tags) {
  auto r =
      pool_.query(select_workers("WHERE state = 'running' AND platform = $1"
                                 " AND (team_id IS NULL OR team_id = (SELECT id FROM teams"
                                 " WHERE name = $2)) AND (CASE WHEN cardinality($3::text[]) = 0"
                                 " THEN cardinality(tags) = 0 ELSE tags @> $3::text[] END)"
                                 " ORDER BY name"),
                  platform, team, tags);
  if (!r) return std::move(r).error().wrap("find workers for team " + team);
  std::vector<WorkerRecord> own, global;
  for (int i = 0; i < r->size(); ++i) {
    WorkerRecord w = record((*r)[i]);
    (w.team.empty() ? global : own).push_back(std::move(w));
  }
  return own.empty() ? global : own;
}

namespace {

// Sets `to` where the state is one of `from`; otherwise says why not.
// Why `action` did not apply to worker `name`: it is gone (ENOENT), or `why` its state rules
// it out (EBUSY).
Status refusal(Pool& pool, const std::string& name, const std::string& action,
               const std::function<std::string(const std::string&)>& why) {
  auto now = pool.query("SELECT state FROM workers WHERE name = $1", name);
  if (!now) return std::move(now).error().wrap(action + " worker " + name);
  if (now->empty()) return not_found(name).wrap(action);
  return Error(action + " worker " + name + ": " + why((*now)[0].str("state")), EBUSY);
}

Status set_state(Pool& pool, const std::string& name, const std::string& to,
                 const std::vector<std::string>& from, const std::string& action) {
  auto r = pool.query("UPDATE workers SET state = $2 WHERE name = $1 AND state = ANY($3)", name, to,
                      from);
  if (!r) return std::move(r).error().wrap(action + " worker " + name);
  if (r->affected() > 0) return ok_status();
  return refusal(pool, name, action, [](const std::string& state) { return "it is " + state; });
}

}  // namespace

Status WorkerStore::land(const std::string& name) {
  return set_state(pool_, name, "landing", {"running", "landing"}, "land");
}

Status WorkerStore::retire(const std::string& name) {
  return set_state(pool_, name, "retiring", {"running", "landing", "retiring"}, "retire");
}

Status WorkerStore::landed(const std::string& name) {
  return set_state(pool_, name, "landed", {"running", "stalled", "landing", "landed"}, "land");
}

Status WorkerStore::prune(const std::string& name) {
  auto r = pool_.query(
      "DELETE FROM workers WHERE name = $1 AND state NOT IN ('running', 'landing', 'retiring')",
      name);
  if (!r) return std::move(r).error().wrap("prune worker " + name);
  if (r->affected() > 0) return ok_status();
  return refusal(pool_, name, "prune", [](const std::string& state) {
    return "cannot prune a " + state + " worker; only stalled or landed ones";
  });
}

Status WorkerStore::remove(const std::string& name) {
  auto r = pool_.query("DELETE FROM workers WHERE name = $1", name);
  if (!r) return std::move(r).error().wrap("delete worker " + name);
  return ok_status();
}

Result<WorkerStore::Transitions> WorkerStore::transition() {
  Transitions t;
  auto take = [](Result<Rows> rows, std::vector<std::string>& into) -> Status {
    auto n = names(std::move(rows));
    if (!n) return std::move(n).error();
    into = std::move(*n);
    return ok_status();
  };
  TARMAC_RETURN_IF_ERROR(
      take(pool_.exec("DELETE FROM workers WHERE ephemeral AND state IN ('running', 'stalled')"
                      " AND expires_at < now() RETURNING name"),
           t.expired_ephemeral),
      "delete expired ephemeral workers");
  TARMAC_RETURN_IF_ERROR(
      take(pool_.exec("UPDATE workers SET state = 'stalled'"
                      " WHERE state = 'running' AND expires_at < now() RETURNING name"),
           t.stalled),
      "stall expired workers");
  TARMAC_RETURN_IF_ERROR(take(pool_.exec(std::string("UPDATE workers w SET state = 'landed'"
                                                     " WHERE state = 'landing' AND NOT ") +
                                         kBusy + " RETURNING name"),
                              t.landed),
                         "land drained workers");
  TARMAC_RETURN_IF_ERROR(
      take(pool_.exec(std::string("DELETE FROM workers w WHERE state = 'retiring' AND NOT ") +
                      kBusy + " RETURNING name"),
           t.retired),
      "delete retired workers");
  return t;
}

}  // namespace tarmac::atc::db
