#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "atc/registry/worker_auth.h"
#include "common/grpc/credentials.h"
#include "tarmac/registry/v1/registry.grpc.pb.h"

namespace tarmac::testing {

// An in-process implementation of the registry contract for worker tests: it remembers
// workers and their last beat, answers with the destroy lists a test queues, and, with TLS,
// lets in only the authorized worker keys (the web node's own check).
class TestRegistry final : public registry::v1::Registry::Service {
 public:
  struct Worker {
    registry::v1::WorkerInfo info;
    registry::v1::WorkerState state = registry::v1::RUNNING;
    registry::v1::HeartbeatRequest last_beat;
    int beats = 0;
    std::set<std::string> destroyed_containers, destroyed_volumes, failed;
  };

  // Starts serving on 127.0.0.1:`port` (0 picks one); with `tls`, demands client certificates
  // and checks them against `keys`.
  std::string start(int port = 0, const tarmac::TlsFiles& tls = {},
                    atc::AuthorizedWorkerKeys keys = {});
  // Stops serving and forgets every worker (as a restarted web node without a DB would).
  void stop();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Every call fails with UNAVAILABLE while set, counting attempts.
  void fail_calls(bool fail);
  // The next answer to `worker` carries these.
  void destroy_next(const std::string& worker, std::vector<std::string> containers,
                    std::vector<std::string> volumes);

  std::optional<Worker> worker(const std::string& name) const;
  int registrations() const;
  int attempts() const;
  std::vector<std::string> refusals() const;
  std::vector<std::string> landed() const;
  std::vector<std::string> retired() const;

  grpc::Status Register(grpc::ServerContext*, const registry::v1::RegisterRequest*,
                        registry::v1::RegisterResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const registry::v1::HeartbeatRequest*,
                         registry::v1::HeartbeatResponse*) override;
  grpc::Status Land(grpc::ServerContext*, const registry::v1::LandRequest*,
                    registry::v1::LandResponse*) override;
  grpc::Status Retire(grpc::ServerContext*, const registry::v1::RetireRequest*,
                      registry::v1::RetireResponse*) override;

 private:
  // Counts the attempt and checks the caller; an error status to return, or OK.
  grpc::Status admit(grpc::ServerContext* ctx, const std::string& name);

  mutable std::mutex mu_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool tls_ = false;
  atc::AuthorizedWorkerKeys keys_;
  bool failing_ = false;
  int attempts_ = 0;
  int registrations_ = 0;
  std::map<std::string, Worker> workers_;
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> pending_;
  std::vector<std::string> refusals_, landed_, retired_;
};

}  // namespace tarmac::testing
