#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include "atc/db/builds.h"
#include "atc/engine/placement.h"

#include "atc/db/gc.h"
#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "atc/registry/service.h"
#include "common/grpc/server.h"

namespace tarmac::atc {

class ApiServer;
namespace engine {
class Engine;
}
namespace auth {
class Accounts;
}

struct WebOptions {
  std::string postgres;  // libpq conninfo
  int pool_size = 16;

  // The gRPC worker registry (Concourse's TSA port): mutual TLS off loopback.
  std::string registry_bind = "127.0.0.1:2222";
  TlsFiles registry_tls;
  std::string worker_keys_file;  // authorized worker keys (needed with TLS)

  // The HTTP API: HTTPS when given a certificate and key.
  std::string http_bind_ip = "127.0.0.1";
  int http_port = 8080;
  std::string http_cert, http_key;
  std::string external_url;  // default http(s)://<bind>:<port>
  // A client that sends no complete request (or reads no answer) this long is disconnected.
  int client_timeout_seconds = 30;
  // Intercept sessions and streamed uploads at once: each holds a thread.
  int max_streaming_requests = 256;
  std::string cluster_name;

  // Periodic jobs: worker states and the GC pass, each on one node per interval.
  std::chrono::milliseconds gc_interval{30000};
  // A container or volume missing from its worker's beats this long loses its row.
  std::chrono::milliseconds missing_grace{std::chrono::minutes(5)};
  // How often the engine looks for pending builds made elsewhere (builds made through this
  // node's API are taken at once).
  std::chrono::milliseconds build_tracker_interval{1000};
  engine::PlacementOptions placement;
  db::LogRetention log_retention;
  // A finished one-off build's containers stay this long for `fly intercept`.
  std::chrono::seconds one_off_grace{std::chrono::minutes(5)};

  // Local users ("name" → "password") and the users that own the main team.
  std::vector<std::pair<std::string, std::string>> local_users;
  std::vector<std::string> main_team_users;
  std::chrono::seconds token_ttl{std::chrono::hours(24)};
};

// `tarmac web`: PostgreSQL (migrated at start), the worker registry, the periodic jobs and the
// HTTP API, wired together. Several may run on one database.
class WebNode {
 public:
  static Result<std::unique_ptr<WebNode>> start(WebOptions options);
  ~WebNode();

  int registry_port() const { return registry_.port; }
  int http_port() const;
  db::Pool& pool() { return *pool_; }
  void shutdown();

 private:
  explicit WebNode(WebOptions o);
  Status seed_users();
  void periodic();

  WebOptions options_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<db::WorkerStore> workers_;
  std::unique_ptr<db::GcStore> gc_;
  std::unique_ptr<auth::Accounts> accounts_;
  std::unique_ptr<RegistryService> registry_service_;
  RunningServer registry_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<engine::Engine> engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread periodic_;
};

}  // namespace tarmac::atc
