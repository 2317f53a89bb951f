// A team's containers and volumes, as `fly containers` and `fly volumes` list them.
#include "atc/api/context.h"

namespace tarmac::atc::api {
namespace {

nlohmann::json meta(const db::Rows::Row& row) {
  auto m = nlohmann::json::parse(row.str("meta"), nullptr, false);
  return m.is_object() ? m : nlohmann::json::object();
}

// Team routes need at least a viewer of that team (or an admin).
Handler team_route(ApiContext& ctx, std::function<Response(Request&, const std::string&)> fn) {
  return authed(ctx, [fn = std::move(fn)](Request& req, const auth::Identity& id) {
    const std::string& team = req.params["team_name"];
    if (!id.may(team, auth::Role::kViewer)) return error_response(403, "forbidden");
    return fn(req, team);
  });
}

}  // namespace

void add_container_volume_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/teams/:team_name/containers",
        team_route(ctx, [&ctx](Request& req, const std::string& team) {
          // fly intercept's filters, as Concourse's: build_id, step_name, type.
          std::optional<int64_t> build_id;
          if (req.query.count("build_id")) {
            build_id = parse_id(req.query["build_id"]);
            if (!build_id) return error_response(400, "build_id: expected a build id");
          }
          auto opt = [&](const char* key) {
            auto it = req.query.find(key);
            return it == req.query.end() || it->second.empty() ? std::optional<std::string>()
                                                               : std::optional(it->second);
          };
          auto rows = ctx.pool.query(
              "SELECT c.handle, c.worker_name, c.state, c.build_id, b.name AS build_name,"
              " c.meta::text AS meta FROM containers c JOIN teams t ON t.id = c.team_id"
              " LEFT JOIN builds b ON b.id = c.build_id WHERE t.name = $1"
              " AND ($2::bigint IS NULL OR c.build_id = $2)"
              " AND ($3::text IS NULL OR c.meta->>'step_name' = $3)"
              " AND ($4::text IS NULL OR c.meta->>'type' = $4) ORDER BY c.id",
              team, build_id, opt("step_name"), opt("type"));
          if (!rows) return error_status(rows.error());
          nlohmann::json out = nlohmann::json::array();
          for (int i = 0; i < rows->size(); ++i) {
            auto row = (*rows)[i];
            nlohmann::json c = meta(row);
            c["id"] = row.str("handle");
            c["worker_name"] = row.str("worker_name");
            c["state"] = row.str("state");
            if (!row.null("build_id")) {
              c["build_id"] = row.i64("build_id");
              c["build_name"] = row.str("build_name");
            }
            out.push_back(c);
          }
          return json_response(200, out);
        }));

  r.add("GET", "/api/v1/teams/:team_name/volumes",
        team_route(ctx, [&ctx](Request&, const std::string& team) {
          auto rows = ctx.pool.query(
              "SELECT v.handle, v.worker_name, v.type, v.path, v.build_id, v.meta::text AS meta,"
              " coalesce(c.handle, '') AS container_handle, coalesce(p.handle, '') AS parent_handle"
              " FROM volumes v JOIN teams t ON t.id = v.team_id"
              " LEFT JOIN containers c ON c.id = v.container_id"
              " LEFT JOIN volumes p ON p.id = v.parent_id WHERE t.name = $1 ORDER BY v.id",
              team);
          if (!rows) return error_status(rows.error());
          nlohmann::json out = nlohmann::json::array();
          for (int i = 0; i < rows->size(); ++i) {
            auto row = (*rows)[i];
            nlohmann::json v = meta(row);
            v["id"] = row.str("handle");
            v["worker_name"] = row.str("worker_name");
            v["type"] = row.str("type");
            v["path"] = row.str("path");
            v["container_handle"] = row.str("container_handle");
            v["parent_handle"] = row.str("parent_handle");
            if (!row.null("build_id")) v["build_id"] = row.i64("build_id");
            out.push_back(v);
          }
          return json_response(200, out);
        }));
}

}  // namespace tarmac::atc::api
