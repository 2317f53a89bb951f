#include "tests/test_registry.h"

#include "common/grpc/status.h"

namespace tarmac::testing {

namespace v1 = registry::v1;

std::string TestRegistry::start(int port, const tarmac::TlsFiles& tls,
                                atc::AuthorizedWorkerKeys keys) {
  auto creds = tarmac::server_credentials(tls);
  if (!creds) return creds.error().what();
  grpc::ServerBuilder builder;
  int chosen = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), *creds, &chosen);
  builder.RegisterService(this);
  auto server = builder.BuildAndStart();
  if (!server || chosen == 0) return "registry: could not listen on port " + std::to_string(port);
  std::lock_guard lock(mu_);
  server_ = std::move(server);
  port_ = chosen;
  tls_ = tls.enabled();
  keys_ = std::move(keys);
  return "";
}

void TestRegistry::stop() {
  std::unique_ptr<grpc::Server> server;
  {
    std::lock_guard lock(mu_);
    server = std::move(server_);
    workers_.clear();
    pending_.clear();
  }
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
}

void TestRegistry::fail_calls(bool fail) {
  std::lock_guard lock(mu_);
  failing_ = fail;
  attempts_ = 0;
}

void TestRegistry::destroy_next(const std::string& worker, std::vector<std::string> containers,
                                std::vector<std::string> volumes) {
  std::lock_guard lock(mu_);
  pending_[worker] = {std::move(containers), std::move(volumes)};
}

std::optional<TestRegistry::Worker> TestRegistry::worker(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = workers_.find(name);
  if (it == workers_.end()) return std::nullopt;
  return it->second;
}

int TestRegistry::registrations() const {
  std::lock_guard lock(mu_);
  return registrations_;
}
int TestRegistry::attempts() const {
  std::lock_guard lock(mu_);
  return attempts_;
}
std::vector<std::string> TestRegistry::refusals() const {
  std::lock_guard lock(mu_);
  return refusals_;
}
std::vector<std::string> TestRegistry::landed() const {
  std::lock_guard lock(mu_);
  return landed_;
}
std::vector<std::string> TestRegistry::retired() const {
  std::lock_guard lock(mu_);
  return retired_;
}

grpc::Status TestRegistry::admit(grpc::ServerContext* ctx, const std::string& name) {
  std::lock_guard lock(mu_);
  ++attempts_;
  if (failing_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "registry is failing");
  if (!tls_) return grpc::Status::OK;
  auto s = atc::authorize_worker(*ctx->auth_context(), keys_, name);
  if (s.ok()) return grpc::Status::OK;
  refusals_.push_back(s.error().message());
  return tarmac::to_grpc(s.error());
}

grpc::Status TestRegistry::Register(grpc::ServerContext* ctx, const v1::RegisterRequest* req,
                                    v1::RegisterResponse* resp) {
  if (auto s = admit(ctx, req->worker().name()); !s.ok()) return s;
  std::lock_guard lock(mu_);
  Worker& w = workers_[req->worker().name()];
  w.info = req->worker();
  w.state =
      req->worker().state() == v1::WORKER_STATE_UNSPECIFIED ? v1::RUNNING : req->worker().state();
  ++registrations_;
  resp->set_ttl_ms(30000);
  return grpc::Status::OK;
}

grpc::Status TestRegistry::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                     v1::HeartbeatResponse* resp) {
  if (auto s = admit(ctx, req->worker().name()); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = workers_.find(req->worker().name());
  if (it == workers_.end())
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "worker \"" + req->worker().name() + "\" is not registered");
  Worker& w = it->second;
  w.info = req->worker();
  w.state = req->worker().state();
  w.last_beat = *req;
  ++w.beats;
  w.destroyed_containers.insert(req->destroyed_containers().begin(),
                                req->destroyed_containers().end());
  w.destroyed_volumes.insert(req->destroyed_volumes().begin(), req->destroyed_volumes().end());
  w.failed.insert(req->failed_to_destroy().begin(), req->failed_to_destroy().end());
  if (auto p = pending_.find(w.info.name()); p != pending_.end()) {
    for (auto& h : p->second.first) resp->add_destroy_containers(h);
    for (auto& h : p->second.second) resp->add_destroy_volumes(h);
    pending_.erase(p);
  }
  resp->set_state(w.state);
  return grpc::Status::OK;
}

grpc::Status TestRegistry::Land(grpc::ServerContext* ctx, const v1::LandRequest* req,
                                v1::LandResponse*) {
  if (auto s = admit(ctx, req->name()); !s.ok()) return s;
  std::lock_guard lock(mu_);
  auto it = workers_.find(req->name());
  if (it != workers_.end()) it->second.state = v1::LANDED;
  landed_.push_back(req->name());
  return grpc::Status::OK;
}

grpc::Status TestRegistry::Retire(grpc::ServerContext* ctx, const v1::RetireRequest* req,
                                  v1::RetireResponse*) {
  if (auto s = admit(ctx, req->name()); !s.ok()) return s;
  std::lock_guard lock(mu_);
  workers_.erase(req->name());
  retired_.push_back(req->name());
  return grpc::Status::OK;
}

}  // namespace tarmac::testing
