#pragma once

#include <functional>
#include <string>

#include "atc/api/router.h"
#include "atc/auth/accounts.h"
#include "atc/db/artifacts.h"
#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "atc/engine/worker_client.h"

namespace tarmac::atc::api {

// What every route group shares.
struct ApiContext {
  db::Pool& pool;
  auth::Accounts& accounts;
  db::WorkerStore& workers;
  std::string external_url;
  std::string cluster_name;
  // Told when a build is created, so the engine of this node can take it at once.
  std::function<void()> build_created;
  // The web node's clients of workers' volume services (artifact uploads and downloads).
  engine::WorkerClients& clients;
};

using AuthedHandler = std::function<Response(Request&, const auth::Identity&)>;

// The handler behind a bearer token: 401 without a valid one, 503 while the database is away.
Handler authed(ApiContext& ctx, AuthedHandler fn);

// An Error as an HTTP answer: ENOENT 404, EEXIST 409, EBUSY 409, EINVAL 400, EACCES 403,
// EAGAIN 503 (retry), else 500.
Response error_status(const Error& e);

// Parses a JSON body, or says what is wrong with it (400).
std::optional<nlohmann::json> parse_body(const Request& req, Response& error);

void add_auth_routes(Router& r, ApiContext& ctx);
void add_team_routes(Router& r, ApiContext& ctx);
void add_worker_routes(Router& r, ApiContext& ctx);
void add_container_volume_routes(Router& r, ApiContext& ctx);
void add_build_routes(Router& r, ApiContext& ctx);
void add_artifact_routes(Router& r, ApiContext& ctx);
void add_hijack_routes(Router& r, ApiContext& ctx);

// Concourse's WorkerArtifact: {"id", "name", "build_id", "created_at"}.
nlohmann::json artifact_json(const db::ArtifactRecord& a);

// Build ids and the like in paths: digits only, no sign, no overflow.
std::optional<int64_t> parse_id(const std::string& s);

}  // namespace tarmac::atc::api
