#include "atc/auth/accounts.h"

#include <nlohmann/json.hpp>

#include "atc/auth/password.h"
#include "common/tls/digest.h"

namespace tarmac::atc::auth {

Role parse_role(const std::string& n) {
  if (n == "owner") return Role::kOwner;
  if (n == "member") return Role::kMember;
  if (n == "pipeline-operator") return Role::kPipelineOperator;
  if (n == "viewer") return Role::kViewer;
  return Role::kNone;
}

const char* role_name(Role r) {
  switch (r) {
    case Role::kOwner:
      return "owner";
    case Role::kMember:
      return "member";
    case Role::kPipelineOperator:
      return "pipeline-operator";
    case Role::kViewer:
      return "viewer";
    default:
      return "none";
  }
}

Status Accounts::set_user(const std::string& username, const std::string& password) {
  auto r = pool_.query(
      "INSERT INTO users (username, password_hash) VALUES ($1, $2)"
      " ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash",
      username, hash_password(password));
  if (!r) return std::move(r).error().wrap("save user " + username);
  return ok_status();
}

Status Accounts::grant(const std::string& team, const std::string& username, Role role) {
  std::string who = "local:" + username;
  // jsonb: add the user to auth.<role>.users unless already there.
  auto r = pool_.query(
      "UPDATE teams SET auth = jsonb_set(auth, ARRAY[$2::text],"
      " jsonb_build_object('users', (SELECT coalesce(jsonb_agg(DISTINCT u), '[]'::jsonb) FROM"
      "   (SELECT jsonb_array_elements_text(coalesce(auth -> $2 -> 'users', '[]'::jsonb)) AS u"
      "    UNION SELECT $3) us),"
      "  'groups', coalesce(auth -> $2 -> 'groups', '[]'::jsonb)))"
      " WHERE name = $1",
      team, std::string(role_name(role)), who);
  if (!r) return std::move(r).error().wrap("grant " + username + " on team " + team);
  if (r->affected() == 0)
    return Error("grant " + username + ": team " + team + " not found", ENOENT);
  return ok_status();
}

Result<std::optional<std::string>> Accounts::login(const std::string& username,
                                                   const std::string& password) {
  auto r = pool_.query("SELECT password_hash FROM users WHERE username = $1", username);
  if (!r) return std::move(r).error().wrap("log in");
  // The hash is computed even for an unknown user, so timing does not tell which names exist.
  std::string stored = r->empty() ? hash_password("") : (*r)[0].str("password_hash");
  if (!verify_password(password, stored) || r->empty()) return std::optional<std::string>();
  std::string token = random_hex(32);
  auto ins = pool_.query(
      "INSERT INTO access_tokens (token_hash, username, expires_at)"
      " VALUES ($1, $2, now() + $3::bigint * interval '1 second')",
      tls::sha256_hex(token), username, static_cast<int64_t>(ttl_.count()));
  if (!ins) return std::move(ins).error().wrap("log in");
  return std::optional<std::string>(token);
}

Result<Identity> Accounts::identity(const std::string& username) {
  Identity id;
  id.username = username;
  auto teams = pool_.exec("SELECT name, auth::text AS auth FROM teams");
  if (!teams) return std::move(teams).error().wrap("read teams");
  std::string who = "local:" + username;
  for (int i = 0; i < teams->size(); ++i) {
    auto auth = nlohmann::json::parse((*teams)[i].str("auth"), nullptr, false);
    if (!auth.is_object()) continue;
    Role best = Role::kNone;
    for (auto& [role, cfg] : auth.items()) {
      if (!cfg.is_object() || !cfg.contains("users") || !cfg["users"].is_array()) continue;
      for (auto& u : cfg["users"])
        if (u.is_string() && u.get<std::string>() == who &&
            static_cast<int>(parse_role(role)) > static_cast<int>(best))
          best = parse_role(role);
    }
    if (best != Role::kNone) id.teams[(*teams)[i].str("name")] = best;
  }
  return id;
}

Result<std::optional<Identity>> Accounts::authenticate(const std::string& token) {
  if (token.empty()) return std::optional<Identity>();
  auto r =
      pool_.query("SELECT username FROM access_tokens WHERE token_hash = $1 AND expires_at > now()",
                  tls::sha256_hex(token));
  if (!r) return std::move(r).error().wrap("check token");
  if (r->empty()) return std::optional<Identity>();
  auto id = identity((*r)[0].str("username"));
  if (!id) return std::move(id).error();
  return std::optional<Identity>(std::move(*id));
}

Status Accounts::expire_tokens() {
  auto r = pool_.exec("DELETE FROM access_tokens WHERE expires_at <= now()");
  if (!r) return std::move(r).error().wrap("expire tokens");
  return ok_status();
}

}  // namespace tarmac::atc::auth
