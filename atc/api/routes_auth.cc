// info (public), the token endpoint fly's `login` uses, and who the caller is.
#include "atc/api/context.h"

namespace tarmac::atc::api {

void add_auth_routes(Router& r, ApiContext& ctx) {
  r.add("GET", "/api/v1/info", [&ctx](Request&) {
    return json_response(200, {{"version", TARMAC_VERSION},
                               {"worker_version", "2.5"},
                               {"external_url", ctx.external_url},
                               {"cluster_name", ctx.cluster_name}});
  });

  // OAuth2's password grant, as Concourse's /sky/issuer/token answers `fly login -u -p`.
  r.add("POST", "/sky/issuer/token", [&ctx](Request& req) {
    auto form = parse_query(req.body);
    if (form["grant_type"] != "password")
      return json_response(400, {{"error", "unsupported_grant_type"},
                                 {"error_description", "only grant_type=password is supported"}});
    if (form["username"].empty())
      return json_response(
          400, {{"error", "invalid_request"}, {"error_description", "username is required"}});
    auto token = ctx.accounts.login(form["username"], form["password"]);
    if (!token) return error_status(token.error());
    if (!*token)
      return json_response(
          401, {{"error", "invalid_grant"}, {"error_description", "invalid username or password"}});
    int64_t ttl = ctx.accounts.token_ttl().count();
    return json_response(200, {{"access_token", **token},
                               {"token_type", "bearer"},
                               {"expires_in", ttl},
                               {"id_token", **token}});
  });

  r.add("GET", "/api/v1/user", authed(ctx, [](Request&, const auth::Identity& id) {
          nlohmann::json teams = nlohmann::json::object();
          for (auto& [team, role] : id.teams) teams[team] = {auth::role_name(role)};
          return json_response(200, {{"sub", "local:" + id.username},
                                     {"name", id.username},
                                     {"user_id", id.username},
                                     {"user_name", id.username},
                                     {"display_user_id", id.username},
                                     {"email", ""},
                                     {"connector", "local"},
                                     {"is_admin", id.admin()},
                                     {"is_system", false},
                                     {"teams", teams}});
        }));
}

}  // namespace tarmac::atc::api
