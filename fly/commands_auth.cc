// login, targets, status.
#include <cstdio>

#include "common/fs.h"
#include "fly/context.h"

namespace tarmac::fly {

int login(const Global& g, const LoginOptions& o) {
  if (g.target.empty()) return fail("no target specified; give -t TARGET");
  auto rc = load_flyrc(g.flyrc_path);
  if (!rc) return fail(rc.error());
  Target t;
  if (auto it = rc->targets.find(g.target); it != rc->targets.end()) t = it->second;
  if (!o.url.empty()) t.api = o.url;
  while (!t.api.empty() && t.api.back() == '/') t.api.pop_back();
  if (t.api.empty()) return fail("no URL for target " + g.target + "; give -c URL");
  t.team = o.team.empty() ? (t.team.empty() ? "main" : t.team) : o.team;
  t.insecure = o.insecure;
  if (!o.ca_cert_file.empty()) {
    auto ca = fs::read_file(o.ca_cert_file);
    if (!ca) return fail(ca.error().wrap("--ca-cert"));
    t.ca_cert = *ca;
  }
  if (o.username.empty() || o.password.empty())
    return fail("give -u USERNAME and -p PASSWORD (local users)");
  std::printf("logging in to team '%s'\n\n", t.team.c_str());
  t.token_type.clear();
  t.token_value.clear();
  Client client(t);
  auto r = client.request("POST", "/sky/issuer/token",
                          "grant_type=password&username=" + form_escape(o.username) +
                              "&password=" + form_escape(o.password) + "&scope=openid+profile",
                          {{"Content-Type", "application/x-www-form-urlencoded"}});
  if (!r) return fail(r.error());
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200 || !j.is_object() || !j.contains("access_token"))
    return fail(r->status == 401 ? "invalid username or password"
                                 : http_error("log in", *r).message());
  t.token_type = "bearer";
  t.token_value = j["access_token"].get<std::string>();
  // The user must be in the team asked for (an admin is in every team).
  auto user = Client(t).get_json("/api/v1/user");
  if (!user) return fail(user.error());
  bool admin = (*user).value("is_admin", false);
  if (!admin && !(*user)["teams"].contains(t.team))
    return fail("user " + o.username + " is not a member of team " + t.team);
  rc->targets[g.target] = t;
  if (auto s = save_flyrc(g.flyrc_path, *rc); !s.ok()) return fail(s.error());
  std::printf("\ntarget saved\n");
  return 0;
}

int targets(const Global& g) {
  auto rc = load_flyrc(g.flyrc_path);
  if (!rc) return fail(rc.error());
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, t] : rc->targets) rows.push_back({name, t.api, t.team, "n/a"});
  print_table({"name", "url", "team", "expiry"}, rows, g.print_table_headers);
  return 0;
}

int status(const Global& g) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  auto r = client->request("GET", "/api/v1/user");
  if (!r) return fail(r.error());
  if (r->status == 200) {
    std::printf("logged in successfully\n");
    return 0;
  }
  if (r->status == 401) {
    std::printf("logged out\n");
    return 1;
  }
  return fail(http_error("status", *r));
}

}  // namespace tarmac::fly
