// Teams: list the caller's (every team for an admin), get, set-team, destroy-team.
#include "atc/api/context.h"
#include "common/names.h"

namespace tarmac::atc::api {
namespace {

nlohmann::json team_json(const db::Rows::Row& row) {
  auto auth = nlohmann::json::parse(row.str("auth"), nullptr, false);
  return {{"id", row.i64("id")},
          {"name", row.str("name")},
          {"auth", auth.is_discarded() ? nlohmann::json::object() : auth}};
}

// A team's auth config as Concourse takes it: {role: {"users": [..], "groups": [..]}}.
std::string check_auth(const nlohmann::json& auth) {
  if (!auth.is_object()) return "auth: expected an object of roles";
  if (auth.empty()) return "auth: give at least one role with users or groups";
  for (auto& [role, cfg] : auth.items()) {
    if (auth::parse_role(role) == auth::Role::kNone)
      return "auth." + role + ": unknown role (owner, member, pipeline-operator, viewer)";
    if (!cfg.is_object()) return "auth." + role + ": expected an object with users and groups";
    for (auto& [key, list] : cfg.items()) {
      if (key != "users" && key != "groups") return "auth." + role + "." + key + ": unknown field";
      if (!list.is_array()) return "auth." + role + "." + key + ": expected an array of strings";
      for (auto& v : list)
        if (!v.is_string()) return "auth." + role + "." + key + ": expected an array of strings";
    }
  }
  return "";
}

}  // namespace

void add_team_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/teams", authed(ctx, [&ctx](Request&, const auth::Identity& id) {
          auto rows = ctx.pool.exec("SELECT id, name, auth::text AS auth FROM teams ORDER BY name");
          if (!rows) return error_status(rows.error());
          nlohmann::json out = nlohmann::json::array();
          for (int i = 0; i < rows->size(); ++i)
            if (id.admin() || id.role((*rows)[i].str("name")) != auth::Role::kNone)
              out.push_back(team_json((*rows)[i]));
          return json_response(200, out);
        }));

  r.add("GET", "/api/v1/teams/:team_name",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          const std::string& team = req.params["team_name"];
          if (!id.may(team, auth::Role::kViewer)) return error_response(403, "forbidden");
          auto rows = ctx.pool.query(
              "SELECT id, name, auth::text AS auth FROM teams WHERE name = $1", team);
          if (!rows) return error_status(rows.error());
          if (rows->empty()) return error_response(404, "team " + team + " not found");
          return json_response(200, team_json((*rows)[0]));
        }));

  // set-team: admins create teams; a team's owners may change its auth.
  r.add("PUT", "/api/v1/teams/:team_name",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          const std::string& team = req.params["team_name"];
          if (!is_plain_name(team, 100))
            return error_response(
                400, "team name \"" + team + "\": expected letters, digits, '-', '_' or '.'");
          Response bad;
          auto body = parse_body(req, bad);
          if (!body) return bad;
          if (!body->is_object() || !body->contains("auth"))
            return error_response(400, "body: expected an object with \"auth\"");
          if (auto msg = check_auth((*body)["auth"]); !msg.empty()) return error_response(400, msg);
          auto exists = ctx.pool.query("SELECT 1 FROM teams WHERE name = $1", team);
          if (!exists) return error_status(exists.error());
          bool created = exists->empty();
          if (created ? !id.admin() : !id.may(team, auth::Role::kOwner))
            return error_response(403, "forbidden");
          auto rows = ctx.pool.query(
              "INSERT INTO teams (name, auth) VALUES ($1, $2::jsonb) ON CONFLICT (name)"
              " DO UPDATE SET auth = EXCLUDED.auth RETURNING id, name, auth::text AS auth",
              team, (*body)["auth"].dump());
          if (!rows) return error_status(rows.error());
          return json_response(created ? 201 : 200, team_json((*rows)[0]));
        }));

  r.add("DELETE", "/api/v1/teams/:team_name",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) {
          const std::string& team = req.params["team_name"];
          if (!id.admin()) return error_response(403, "forbidden");
          if (team == "main") return error_response(403, "the main team cannot be destroyed");
          auto rows = ctx.pool.query("DELETE FROM teams WHERE name = $1", team);
          if (!rows) return error_status(rows.error());
          if (rows->affected() == 0) return error_response(404, "team " + team + " not found");
          return empty_response(204);
        }));
}

}  // namespace tarmac::atc::api
