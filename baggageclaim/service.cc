#include "baggageclaim/service.h"

#include <cerrno>

#include "baggageclaim/client.h"
#include "common/grpc/status.h"

namespace tarmac::baggageclaim {
namespace {

grpc::Status invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

grpc::Status VolumeService::Create(grpc::ServerContext*, const v1::CreateRequest* req,
                                   v1::Volume* reply) {
  CreateSpec spec;
  spec.handle = req->handle();
  spec.properties = Properties(req->properties().begin(), req->properties().end());
  spec.privileged = req->privileged();
  const auto& s = req->strategy();
  switch (s.kind_case()) {
    case v1::Strategy::kEmpty:
      spec.strategy.kind = Strategy::Kind::kEmpty;
      break;
    case v1::Strategy::kCow:
      spec.strategy.kind = Strategy::Kind::kCow;
      spec.strategy.parent = s.cow().parent_handle();
      if (spec.strategy.parent.empty())
        return invalid("create volume: strategy cow: parent_handle is empty");
      break;
    case v1::Strategy::kImport:
      spec.strategy.kind = Strategy::Kind::kImport;
      spec.strategy.import_path = s.import().path();
      spec.strategy.follow_symlinks = s.import().follow_symlinks();
      if (spec.strategy.import_path.empty())
        return invalid("create volume: strategy import: path is empty");
      break;
    default:
      return invalid("create volume: strategy: expected one of empty, cow, import");
  }
  auto volume = store_.create(spec);
  if (!volume.ok()) {
    // Bad handles and names are the caller's mistake.
    return to_grpc(volume.error(), volume.error().errnum() == 0 ? grpc::StatusCode::INVALID_ARGUMENT
                                                                : grpc::StatusCode::INTERNAL);
  }
  to_proto(*volume, reply);
  return grpc::Status::OK;
}

grpc::Status VolumeService::List(grpc::ServerContext*, const v1::ListRequest* req,
                                 v1::ListResponse* reply) {
  Properties filter(req->properties().begin(), req->properties().end());
  for (const auto& v : store_.list(filter)) to_proto(v, reply->add_volumes());
  return grpc::Status::OK;
}

grpc::Status VolumeService::Get(grpc::ServerContext*, const v1::GetRequest* req,
                                v1::Volume* reply) {
  auto volume = store_.get(req->handle());
  if (!volume.ok()) return to_grpc(volume.error());
  to_proto(*volume, reply);
  return grpc::Status::OK;
}

grpc::Status VolumeService::SetProperty(grpc::ServerContext*, const v1::SetPropertyRequest* req,
                                        v1::Empty*) {
  if (req->name().empty()) return invalid("set property: name is empty");
  if (auto s = store_.set_property(req->handle(), req->name(), req->value()); !s.ok())
    return to_grpc(s.error());
  return grpc::Status::OK;
}

grpc::Status VolumeService::SetPrivileged(grpc::ServerContext*, const v1::SetPrivilegedRequest* req,
                                          v1::Empty*) {
  if (auto s = store_.set_privileged(req->handle(), req->privileged()); !s.ok())
    return to_grpc(s.error());
  return grpc::Status::OK;
}

grpc::Status VolumeService::Destroy(grpc::ServerContext*, const v1::DestroyRequest* req,
                                    v1::Empty*) {
  if (auto s = store_.destroy(req->handle()); !s.ok()) return to_grpc(s.error());
  return grpc::Status::OK;
}

grpc::Status VolumeService::DestroyMany(grpc::ServerContext*, const v1::DestroyManyRequest* req,
                                        v1::DestroyManyResponse* reply) {
  std::vector<std::string> handles(req->handles().begin(), req->handles().end());
  for (auto& [handle, why] : store_.destroy_many(handles)) (*reply->mutable_failed())[handle] = why;
  return grpc::Status::OK;
}

grpc::Status VolumeService::StreamIn(grpc::ServerContext* ctx,
                                     grpc::ServerReader<v1::StreamInChunk>* reader, v1::Empty*) {
  v1::StreamInChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header())
    return invalid("stream in: the first message must carry the header (handle, path)");
  const v1::StreamInHeader header = chunk.header();
  Store::StreamInOptions options;
  options.encoding = from_proto(header.encoding());
  options.limit = header.limit();
  // The first message may carry data too.
  bool pending = !chunk.data().empty();
  tar::ReadFn read = [&]() -> Result<std::string_view> {
    if (pending) {
      pending = false;
      return std::string_view(chunk.data());
    }
    do {
      if (!reader->Read(&chunk)) {
        // A cancelled call (the client died or gave up) is not the end of the stream: what
        // came so far must not be taken as the whole.
        if (ctx->IsCancelled()) return Error("the client cancelled the stream", ECANCELED);
        return std::string_view();
      }
    } while (chunk.data().empty());
    return std::string_view(chunk.data());
  };
  if (auto s = store_.stream_in(header.handle(), header.path(), read, options); !s.ok())
    return to_grpc(s.error(), grpc::StatusCode::INVALID_ARGUMENT);
  return grpc::Status::OK;
}

grpc::Status VolumeService::StreamOut(grpc::ServerContext* ctx, const v1::StreamOutRequest* req,
                                      grpc::ServerWriter<v1::Chunk>* writer) {
  tar::WriteFn write = [&](std::string_view data) -> Status {
    v1::Chunk chunk;
    chunk.set_data(data.data(), data.size());
    if (!writer->Write(chunk)) return Error("the client went away", ECANCELED);
    return ok_status();
  };
  if (auto s = store_.stream_out(req->handle(), req->path(), write, from_proto(req->encoding()));
      !s.ok())
    return to_grpc(s.error());
  return grpc::Status::OK;
}

grpc::Status VolumeService::StreamP2POut(grpc::ServerContext*, const v1::StreamP2POutRequest* req,
                                         v1::Empty*) {
  if (req->destination_address().empty() || req->destination_handle().empty())
    return invalid("stream p2p out: destination_address and destination_handle are required");
  // Fail before reading anything if the source is unknown.
  if (auto v = store_.get(req->handle()); !v.ok()) return to_grpc(v.error());
  auto peer = Client::connect(req->destination_address(), peer_tls_);
  if (!peer.ok()) return to_grpc(peer.error(), grpc::StatusCode::INVALID_ARGUMENT);
  tar::Encoding encoding = from_proto(req->encoding());
  auto sink = (*peer)->open_stream_in(req->destination_handle(), req->destination_path(), encoding);
  if (!sink.ok()) return to_grpc(sink.error(), grpc::StatusCode::UNAVAILABLE);
  bool destination_refused = false;
  tar::WriteFn write = [&](std::string_view data) -> Status {
    if ((*sink)->write(data)) return ok_status();
    destination_refused = true;
    return Error("the destination stopped reading");
  };
  Status sent = store_.stream_out(req->handle(), req->path(), write, encoding);
  if (!sent.ok()) {
    // The destination's own error explains a refused write better than ours; otherwise
    // cancel, so the destination drops the partial stream instead of taking it as whole.
    if (destination_refused) {
      Status received = (*sink)->finish();
      if (!received.ok()) return to_grpc(received.error().wrap("stream p2p out"));
    }
    (*sink)->abort();
    return to_grpc(sent.error());
  }
  if (auto s = (*sink)->finish(); !s.ok()) return to_grpc(s.error().wrap("stream p2p out"));
  return grpc::Status::OK;
}

}  // namespace tarmac::baggageclaim
