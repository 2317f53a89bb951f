#pragma once

#include <chrono>

#include "atc/db/gc.h"
#include "atc/db/workers.h"
#include "atc/registry/worker_auth.h"
#include "tarmac/registry/v1/registry.grpc.pb.h"

namespace tarmac::atc {

struct RegistryOptions {
  // With TLS every call's peer certificate must carry an authorized key and the worker's
  // name; without (loopback only) calls are taken as they come.
  bool tls = false;
  AuthorizedWorkerKeys keys;
};

// The web node's side of registry.proto, kept in PostgreSQL: registrations and beats update
// the workers table; each beat is reconciled with the containers and volumes tables and
// answered with what the worker should destroy.
class RegistryService final : public registry::v1::Registry::Service {
 public:
  RegistryService(db::WorkerStore& workers, db::GcStore& gc, RegistryOptions options)
      : workers_(workers), gc_(gc), options_(std::move(options)) {}

  grpc::Status Register(grpc::ServerContext*, const registry::v1::RegisterRequest*,
                        registry::v1::RegisterResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const registry::v1::HeartbeatRequest*,
                         registry::v1::HeartbeatResponse*) override;
  grpc::Status Land(grpc::ServerContext*, const registry::v1::LandRequest*,
                    registry::v1::LandResponse*) override;
  grpc::Status Retire(grpc::ServerContext*, const registry::v1::RetireRequest*,
                      registry::v1::RetireResponse*) override;

 private:
  // OK, or why the caller may not speak for worker `name`.
  grpc::Status admit(grpc::ServerContext* ctx, const std::string& name) const;

  db::WorkerStore& workers_;
  db::GcStore& gc_;
  RegistryOptions options_;
};

}  // namespace tarmac::atc
