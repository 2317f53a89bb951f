// Builds: list, get, plan, abort, and their events as Server-Sent Events.
#include <cerrno>

#include "atc/api/context.h"
#include "atc/db/artifacts.h"
#include "atc/db/builds.h"

namespace tarmac::atc::api {
namespace {

nlohmann::json build_json(const db::BuildRecord& b) {
  nlohmann::json j = {{"id", b.id},
                      {"team_name", b.team},
                      {"name", b.name},
                      {"status", b.status},
                      {"api_url", "/api/v1/builds/" + std::to_string(b.id)}};
  if (!b.created_by.empty()) j["created_by"] = b.created_by;
  if (b.start_time) j["start_time"] = b.start_time;
  if (b.end_time) j["end_time"] = b.end_time;
  return j;
}

// The uploads a plan's artifact_input steps name, wherever they sit in it.
void artifact_inputs(const nlohmann::json& plan, std::vector<int64_t>& out) {
  if (plan.is_object()) {
    if (auto it = plan.find("artifact_input"); it != plan.end() && it->is_object()) {
      auto id = it->find("artifact_id");
      if (id != it->end() && id->is_number_integer()) out.push_back(id->get<int64_t>());
    }
    for (const auto& [k, v] : plan.items()) artifact_inputs(v, out);
  } else if (plan.is_array()) {
    for (const auto& v : plan) artifact_inputs(v, out);
  }
}

// The build behind :build_id if the caller may see it; otherwise the answer to give.
std::optional<db::BuildRecord> visible_build(ApiContext& ctx, Request& req,
                                             const auth::Identity& id, auth::Role needed,
                                             Response& answer) {
  auto build_id = parse_id(req.params["build_id"]);
  if (!build_id) {
    answer = error_response(400, "build id \"" + req.params["build_id"] + "\": expected a number");
    return std::nullopt;
  }
  auto b = db::BuildStore(ctx.pool).find(*build_id);
  if (!b) {
    answer = error_status(b.error());
    return std::nullopt;
  }
  if (!*b) {
    answer = error_response(404, "build " + std::to_string(*build_id) + " not found");
    return std::nullopt;
  }
  if (!id.may((*b)->team, needed)) {
    answer = error_response(403, "forbidden");
    return std::nullopt;
  }
  return **b;
}

// Streams a build's stored events from `after`, then new ones as they are written, and
// ends with "end" once the build is over and everything was sent.
std::shared_ptr<EventSource> event_source(ApiContext& ctx, int64_t build_id, int after) {
  auto src = std::make_shared<EventSource>();
  // Polled every few milliseconds; the database is asked only when this process changed a
  // build since the last look, or a second went by (another web node may run the build).
  uint64_t seen = ~uint64_t{0};
  auto last_look = std::chrono::steady_clock::time_point{};
  src->poll = [&ctx, build_id, after, seen, last_look](std::string& out) mutable {
    uint64_t now_changes = db::build_changes();
    auto now = std::chrono::steady_clock::now();
    if (now_changes == seen && now - last_look < std::chrono::seconds(1))
      return EventSource::Poll::kMore;
    seen = now_changes;
    last_look = now;
    db::BuildStore builds(ctx.pool);
    // Read the status before the events: a build seen finished has all its events stored.
    auto b = builds.find(build_id);
    bool finished = b && *b && (*b)->finished();
    auto events = builds.events(build_id, after, 500);
    if (!events) return EventSource::Poll::kMore;  // the database is away: try again
    for (const auto& e : *events) {
      out += "id: " + std::to_string(e.event_id) + "\nevent: event\ndata: {\"data\":" + e.payload +
             ",\"event\":\"" + e.type + "\",\"version\":\"" + e.version + "\"}\n\n";
      after = e.event_id;
    }
    if (finished && events->empty()) {
      out += "id: " + std::to_string(after + 1) + "\nevent: end\ndata: \n\n";
      return EventSource::Poll::kEnd;
    }
    // More may be stored already (a batch is bounded; the end is not sent yet): look again
    // at the next poll.
    if (!events->empty()) seen = ~uint64_t{0};
    return EventSource::Poll::kMore;
  };
  return src;
}

}  // namespace

std::optional<int64_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  for (char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  return std::stoll(s);
}

void add_build_routes(Router& r, ApiContext& ctx) {
  auto list = [&ctx](Request& req, const auth::Identity& id, std::vector<std::string> teams,
                     bool all) {
    int limit = 100;
    if (auto it = req.query.find("limit"); it != req.query.end()) {
      auto n = parse_id(it->second);
      if (!n || *n < 1 || *n > 1000) return error_response(400, "limit: expected 1 to 1000");
      limit = static_cast<int>(*n);
    }
    std::optional<int64_t> until;
    if (auto it = req.query.find("until"); it != req.query.end()) {
      until = parse_id(it->second);
      if (!until) return error_response(400, "until: expected a build id");
    }
    auto page = db::BuildStore(ctx.pool).list(teams, all, limit, until);
    if (!page) return error_status(page.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& b : page->builds) out.push_back(build_json(b));
    Response resp = json_response(200, out);
    if (page->next_until)
      resp.headers["Link"] = "<" + req.path + "?until=" + std::to_string(*page->next_until) +
                             "&limit=" + std::to_string(limit) + ">; rel=\"next\"";
    return resp;
  };

  r.add("GET", "/api/v1/builds", authed(ctx, [list](Request& req, const auth::Identity& id) {
          std::vector<std::string> teams;
          for (auto& [team, role] : id.teams) teams.push_back(team);
          return list(req, id, teams, id.admin());
        }));
  r.add("GET", "/api/v1/teams/:team_name/builds",
        authed(ctx, [list](Request& req, const auth::Identity& id) {
          const std::string& team = req.params["team_name"];
          if (!id.may(team, auth::Role::kViewer)) return error_response(403, "forbidden");
          return list(req, id, {team}, false);
        }));

  // A one-off build of the team with this plan (what `fly execute` sends), pending until the
  // engine takes it.
  r.add("POST", "/api/v1/teams/:team_name/builds",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          const std::string& team = req.params["team_name"];
          if (!id.may(team, auth::Role::kMember)) return error_response(403, "forbidden");
          Response bad;
          auto plan = parse_body(req, bad);
          if (!plan) return bad;
          if (!plan->is_object()) return error_response(400, "body: expected a plan object");
          std::vector<int64_t> uploads;
          artifact_inputs(*plan, uploads);
          auto b =
              db::BuildStore(ctx.pool).create_one_off(team, plan->dump(), id.username, uploads);
          if (!b) return error_status(b.error());
          if (ctx.build_created) ctx.build_created();
          return json_response(201, build_json(*b));
        }));

  r.add("GET", "/api/v1/builds/:build_id",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          Response answer;
          auto b = visible_build(ctx, req, id, auth::Role::kViewer, answer);
          return b ? json_response(200, build_json(*b)) : answer;
        }));

  r.add("GET", "/api/v1/builds/:build_id/plan",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          Response answer;
          auto b = visible_build(ctx, req, id, auth::Role::kViewer, answer);
          if (!b) return answer;
          if (b->plan.empty()) return error_response(404, "build " + b->name + " has no plan");
          return json_response(200,
                               {{"schema", "exec.v2"}, {"plan", nlohmann::json::parse(b->plan)}});
        }));

  r.add("PUT", "/api/v1/builds/:build_id/abort",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          Response answer;
          auto b = visible_build(ctx, req, id, auth::Role::kMember, answer);
          if (!b) return answer;
          db::BuildStore builds(ctx.pool);
          auto ended = builds.abort(b->id);
          if (!ended) return error_status(ended.error());
          if (*ended) {
            nlohmann::json data = {{"status", "aborted"}, {"time", std::time(nullptr)}};
            (void)builds.append_event(b->id, "status", "1.0", data.dump());
          }
          return empty_response(204);
        }));

  // The build's kept outputs, which `fly execute -o` downloads.
  r.add("GET", "/api/v1/builds/:build_id/artifacts",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          Response answer;
          auto b = visible_build(ctx, req, id, auth::Role::kViewer, answer);
          if (!b) return answer;
          auto artifacts = db::ArtifactStore(ctx.pool).for_build(b->id);
          if (!artifacts) return error_status(artifacts.error());
          nlohmann::json out = nlohmann::json::array();
          for (const auto& a : *artifacts) out.push_back(artifact_json(a));
          return json_response(200, out);
        }));

  r.add("GET", "/api/v1/builds/:build_id/events",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          Response answer;
          auto b = visible_build(ctx, req, id, auth::Role::kViewer, answer);
          if (!b) return answer;
          int after = -1;
          if (auto last = req.header("last-event-id"); !last.empty()) {
            auto n = parse_id(last);
            if (!n) return error_response(400, "Last-Event-ID \"" + last + "\": expected a number");
            after = static_cast<int>(*n);
          }
          Response resp;
          resp.headers["Content-Type"] = "text/event-stream; charset=utf-8";
          resp.headers["Cache-Control"] = "no-cache, no-store, must-revalidate";
          resp.headers["X-ATC-Stream-Version"] = "2.0";
          resp.events = event_source(ctx, b->id, after);
          return resp;
        }));
}

}  // namespace tarmac::atc::api
