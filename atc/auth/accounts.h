#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "atc/db/pool.h"

namespace tarmac::atc::auth {

// Concourse's roles, strongest first.
enum class Role { kOwner = 4, kMember = 3, kPipelineOperator = 2, kViewer = 1, kNone = 0 };
Role parse_role(const std::string& name);
const char* role_name(Role r);

// Who a request speaks for: a local user, the teams they are in and their role there.
struct Identity {
  std::string username;
  std::map<std::string, Role> teams;
  // An owner of the main team administers every team and worker.
  bool admin() const { return role("main") == Role::kOwner; }
  Role role(const std::string& team) const {
    auto it = teams.find(team);
    return it == teams.end() ? Role::kNone : it->second;
  }
  // Admins may do anything a team's owner may.
  bool may(const std::string& team, Role needed) const {
    return admin() || static_cast<int>(role(team)) >= static_cast<int>(needed);
  }
};

// Local users, their bearer tokens and team membership, in PostgreSQL. Tokens are random,
// stored only as their SHA-256, and expire.
class Accounts {
 public:
  Accounts(db::Pool& pool, std::chrono::seconds token_ttl) : pool_(pool), ttl_(token_ttl) {}

  // Creates the user or changes their password.
  Status set_user(const std::string& username, const std::string& password);
  // Makes `username` a user of `team` with `role` in the team's auth config.
  Status grant(const std::string& team, const std::string& username, Role role);

  // A new token for a user whose password matches; nullopt for a wrong name or password.
  Result<std::optional<std::string>> login(const std::string& username,
                                           const std::string& password);
  // The identity a bearer token stands for; nullopt when unknown or expired.
  Result<std::optional<Identity>> authenticate(const std::string& token);
  Result<Identity> identity(const std::string& username);

  std::chrono::seconds token_ttl() const { return ttl_; }
  // Drops expired tokens.
  Status expire_tokens();

 private:
  db::Pool& pool_;
  std::chrono::seconds ttl_;
};

}  // namespace tarmac::atc::auth
