// Workers: list (global workers and the caller's teams'), land, retire, prune.
#include "atc/api/context.h"

namespace tarmac::atc::api {
namespace {

nlohmann::json worker_json(const db::WorkerRecord& w) {
  const auto& i = w.info;
  return {{"name", i.name()},
          {"addr", i.address()},
          {"baggageclaim_url", i.address()},
          {"active_containers", i.active_containers()},
          {"active_volumes", i.active_volumes()},
          {"active_tasks", i.active_tasks()},
          {"resource_types", db::resource_types_json(i)},
          {"platform", i.platform()},
          {"tags", std::vector<std::string>(i.tags().begin(), i.tags().end())},
          {"team", w.team},
          {"version", i.version()},
          {"start_time", i.start_time()},
          {"ephemeral", i.ephemeral()},
          {"state", db::state_name(i.state())}};
}

// Admins act on every worker; a team worker also on its team's owners and members.
Handler worker_action(ApiContext& ctx, Status (db::WorkerStore::*action)(const std::string&)) {
  return authed(ctx, [&ctx, action](Request& req, const auth::Identity& id) {
    const std::string& name = req.params["worker_name"];
    auto w = ctx.workers.find(name);
    if (!w) return error_status(w.error());
    if (!*w) return error_response(404, "worker " + name + " not found");
    bool allowed = id.admin() || (!(*w)->team.empty() && id.may((*w)->team, auth::Role::kMember));
    if (!allowed) return error_response(403, "forbidden");
    if (auto s = (ctx.workers.*action)(name); !s.ok()) return error_status(s.error());
    return empty_response(200);
  });
}

}  // namespace

void add_worker_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/workers", authed(ctx, [&ctx](Request&, const auth::Identity& id) {
          auto all = ctx.workers.list();
          if (!all) return error_status(all.error());
          nlohmann::json out = nlohmann::json::array();
          for (const auto& w : *all)
            if (id.admin() || w.team.empty() || id.role(w.team) != auth::Role::kNone)
              out.push_back(worker_json(w));
          return json_response(200, out);
        }));
  r.add("PUT", "/api/v1/workers/:worker_name/land", worker_action(ctx, &db::WorkerStore::land));
  r.add("PUT", "/api/v1/workers/:worker_name/retire", worker_action(ctx, &db::WorkerStore::retire));
  r.add("PUT", "/api/v1/workers/:worker_name/prune", worker_action(ctx, &db::WorkerStore::prune));
}

}  // namespace tarmac::atc::api
