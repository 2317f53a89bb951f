#pragma once

#include <memory>
#include <string>

#include "atc/api/router.h"
#include "common/result.h"

namespace tarmac::atc::api {

struct ServerOptions {
  std::string bind_ip = "127.0.0.1";
  int port = 0;  // 0 picks one
  // PEM files: HTTPS when both are given.
  std::string cert_file, key_file;
  int threads = 4;
  size_t max_body_bytes = 1 << 20;
  // A client that sends no complete request (or reads no response) this long is dropped.
  int io_timeout_seconds = 30;
  // Streaming exchanges (WebSocket sessions, streamed request bodies) run their handler on a
  // thread of their own; past this many at once (or when no thread can be made) a request
  // gets 503 rather than a thread.
  int max_streaming_handlers = 256;
};

// HTTP/1.1 (keep-alive) over Boost.Beast, plain or TLS: requests go to the router;
// oversized bodies get 413, malformed requests 400, slow clients are timed out; an exception
// from a handler is a 500 and the server keeps serving.
class Server {
 public:
  static Result<std::unique_ptr<Server>> start(ServerOptions options, const Router& router);
  virtual ~Server() = default;
  virtual int port() const = 0;
  virtual void stop() = 0;
};

}  // namespace tarmac::atc::api
