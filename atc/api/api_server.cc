#include "atc/api/api_server.h"

namespace tarmac::atc {

Result<std::unique_ptr<ApiServer>> ApiServer::start(api::ServerOptions options,
                                                    api::ApiContext ctx) {
  std::unique_ptr<ApiServer> s(new ApiServer(std::move(ctx)));
  api::add_auth_routes(s->router_, s->ctx_);
  api::add_team_routes(s->router_, s->ctx_);
  api::add_worker_routes(s->router_, s->ctx_);
  api::add_container_volume_routes(s->router_, s->ctx_);
  api::add_build_routes(s->router_, s->ctx_);
  api::add_artifact_routes(s->router_, s->ctx_);
  api::add_hijack_routes(s->router_, s->ctx_);
  auto server = api::Server::start(std::move(options), s->router_);
  if (!server) return std::move(server).error().wrap("start the HTTP API");
  s->server_ = std::move(*server);
  return s;
}

}  // namespace tarmac::atc
