#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/grpc/credentials.h"
#include "common/result.h"

namespace tarmac {

// A running gRPC server for `services` on `address` ("127.0.0.1:0" picks a port).
struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};
Result<RunningServer> start_server(const std::string& address,
                                   const std::vector<grpc::Service*>& services,
                                   const TlsFiles& tls);

}  // namespace tarmac
