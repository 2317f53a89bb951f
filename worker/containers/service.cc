#include "worker/containers/service.h"

#include "common/grpc/status.h"
#include "worker/containers/attach.h"

namespace tarmac::containers {
namespace {

namespace v1 = worker::v1;
using tarmac::to_grpc;

}  // namespace

grpc::Status ContainerService::Create(grpc::ServerContext*, const v1::CreateContainerRequest* req,
                                      v1::Container* out) {
  auto c = manager_.create(req->spec());
  if (!c) return to_grpc(c.error(), grpc::StatusCode::INVALID_ARGUMENT);
  *out = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status ContainerService::List(grpc::ServerContext*, const v1::ListContainersRequest* req,
                                    v1::ListContainersResponse* out) {
  std::map<std::string, std::string> filter(req->properties().begin(), req->properties().end());
  for (auto& c : manager_.list(filter)) *out->add_containers() = std::move(c);
  return grpc::Status::OK;
}

grpc::Status ContainerService::Get(grpc::ServerContext*, const v1::GetContainerRequest* req,
                                   v1::Container* out) {
  auto c = manager_.get(req->handle());
  if (!c) return to_grpc(c.error());
  *out = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status ContainerService::SetProperty(grpc::ServerContext*,
                                           const v1::SetContainerPropertyRequest* req,
                                           v1::Container* out) {
  auto c = manager_.set_property(req->handle(), req->name(), req->value());
  if (!c) return to_grpc(c.error(), grpc::StatusCode::INVALID_ARGUMENT);
  *out = std::move(*c);
  return grpc::Status::OK;
}

grpc::Status ContainerService::Destroy(grpc::ServerContext*, const v1::DestroyContainerRequest* req,
                                       v1::DestroyContainerResponse*) {
  auto s = manager_.destroy(req->handle());
  if (!s.ok()) return to_grpc(s.error());
  return grpc::Status::OK;
}

grpc::Status ContainerService::Process(grpc::ServerContext* context, ProcessStream* stream) {
  v1::ProcessInput first;
  if (!stream->Read(&first))
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "process: expected a first message with run or attach");
  std::string handle, id, dir, output_dir;
  uint64_t from = 0;
  v1::ProcessOutput started;
  if (first.has_run()) {
    handle = first.run().handle();
    auto r = manager_.run(handle, first.run().process());
    if (!r) return to_grpc(r.error(), grpc::StatusCode::INVALID_ARGUMENT);
    id = r->id;
    dir = r->dir;
    output_dir = r->output_dir;
    started.mutable_started()->set_pid(r->pid);
  } else if (first.has_attach()) {
    handle = first.attach().handle();
    id = first.attach().process_id();
    from = first.attach().from_offset();
    auto info = manager_.process_info(handle, id);
    if (!info) return to_grpc(info.error());
    started.mutable_started()->set_pid(info->pid());
    auto found = manager_.process_dir(handle, id);
    if (!found) return to_grpc(found.error());
    dir = *found;
    output_dir = manager_.output_dir(handle, id);
  } else {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "process: the first message must be run or attach");
  }
  started.mutable_started()->set_process_id(id);
  if (!stream->Write(started)) return grpc::Status::OK;  // the client left; the process runs
  return serve_process(context, stream, dir, output_dir, id, from);
}

}  // namespace tarmac::containers
