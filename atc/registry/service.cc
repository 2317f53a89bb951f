#include "atc/registry/service.h"

#include <spdlog/spdlog.h>

#include <cerrno>

#include "common/grpc/status.h"
#include "common/names.h"

namespace tarmac::atc {

namespace v1 = registry::v1;

namespace {

grpc::Status invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

grpc::Status check_info(const v1::WorkerInfo& w) {
  // The name becomes a row key, a log field and a certificate name.
  if (!is_plain_name(w.name(), 253))
    return invalid("worker.name \"" + w.name() +
                   "\": expected 1-253 characters of letters, digits, '-', '_' or '.'");
  if (w.address().empty()) return invalid("worker " + w.name() + ": worker.address is empty");
  if (w.heartbeat_interval_ms() < 0 || w.ttl_ms() < 0)
    return invalid("worker " + w.name() + ": negative heartbeat_interval_ms or ttl_ms");
  return grpc::Status::OK;
}

}  // namespace

grpc::Status RegistryService::admit(grpc::ServerContext* ctx, const std::string& name) const {
  if (!options_.tls) return grpc::Status::OK;
  auto s = authorize_worker(*ctx->auth_context(), options_.keys, name);
  if (s.ok()) return grpc::Status::OK;
  spdlog::warn("registry: refused: {}", s.error().message());
  return to_grpc(s.error());
}

grpc::Status RegistryService::Register(grpc::ServerContext* ctx, const v1::RegisterRequest* req,
                                       v1::RegisterResponse* resp) {
  if (auto s = check_info(req->worker()); !s.ok()) return s;
  if (auto s = admit(ctx, req->worker().name()); !s.ok()) return s;
  auto saved = workers_.save(req->worker());
  if (!saved) return to_grpc(saved.error());
  spdlog::info("registry: worker {} registered at {} ({})", saved->info.name(),
               saved->info.address(), db::state_name(saved->info.state()));
  resp->set_heartbeat_interval_ms(saved->info.heartbeat_interval_ms());
  resp->set_ttl_ms(saved->info.ttl_ms());
  return grpc::Status::OK;
}

grpc::Status RegistryService::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                        v1::HeartbeatResponse* resp) {
  if (auto s = check_info(req->worker()); !s.ok()) return s;
  if (auto s = admit(ctx, req->worker().name()); !s.ok()) return s;
  auto beat = workers_.beat(req->worker());
  if (!beat) return to_grpc(beat.error());
  auto strings = [](const auto& field) {
    return std::vector<std::string>(field.begin(), field.end());
  };
  db::HandleReport report{req->worker().name(),
                          strings(req->container_handles()),
                          strings(req->volume_handles()),
                          strings(req->destroyed_containers()),
                          strings(req->destroyed_volumes()),
                          strings(req->failed_to_destroy())};
  auto destroy = gc_.reconcile(report);
  if (!destroy) return to_grpc(destroy.error());
  for (auto& h : destroy->containers) resp->add_destroy_containers(h);
  for (auto& h : destroy->volumes) resp->add_destroy_volumes(h);
  resp->set_state(beat->info.state());
  return grpc::Status::OK;
}

grpc::Status RegistryService::Land(grpc::ServerContext* ctx, const v1::LandRequest* req,
                                   v1::LandResponse*) {
  if (auto s = admit(ctx, req->name()); !s.ok()) return s;
  if (auto s = workers_.landed(req->name()); !s.ok()) return to_grpc(s.error());
  spdlog::info("registry: worker {} landed", req->name());
  return grpc::Status::OK;
}

grpc::Status RegistryService::Retire(grpc::ServerContext* ctx, const v1::RetireRequest* req,
                                     v1::RetireResponse*) {
  if (auto s = admit(ctx, req->name()); !s.ok()) return s;
  if (auto s = workers_.remove(req->name()); !s.ok()) return to_grpc(s.error());
  spdlog::info("registry: worker {} retired", req->name());
  return grpc::Status::OK;
}

}  // namespace tarmac::atc
