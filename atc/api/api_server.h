#pragma once

#include <memory>

#include "atc/api/context.h"
#include "atc/api/server.h"

namespace tarmac::atc {

// The HTTP API: Concourse's /api/v1 routes over the server, sharing the web node's stores.
class ApiServer {
 public:
  static Result<std::unique_ptr<ApiServer>> start(api::ServerOptions options, api::ApiContext ctx);
  int port() const { return server_->port(); }
  void stop() { server_->stop(); }

 private:
  explicit ApiServer(api::ApiContext ctx) : ctx_(std::move(ctx)) {}
  api::ApiContext ctx_;
  api::Router router_;
  std::unique_ptr<api::Server> server_;
};

}  // namespace tarmac::atc
