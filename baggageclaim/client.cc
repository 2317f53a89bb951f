#include "baggageclaim/client.h"

#include "common/grpc/status.h"

namespace tarmac::baggageclaim {

pb::Encoding to_proto(tar::Encoding encoding) {
  switch (encoding) {
    case tar::Encoding::kRaw:
      return pb::ENCODING_RAW;
    case tar::Encoding::kZstd:
      return pb::ENCODING_ZSTD;
    case tar::Encoding::kGzip:
      break;
  }
  return pb::ENCODING_GZIP;
}

tar::Encoding from_proto(pb::Encoding encoding) {
  switch (encoding) {
    case pb::ENCODING_RAW:
      return tar::Encoding::kRaw;
    case pb::ENCODING_ZSTD:
      return tar::Encoding::kZstd;
    default:
      return tar::Encoding::kGzip;
  }
}

Volume from_proto(const pb::Volume& v) {
  Volume out;
  out.handle = v.handle();
  out.path = v.path();
  out.properties = Properties(v.properties().begin(), v.properties().end());
  out.privileged = v.privileged();
  out.parent = v.parent_handle();
  return out;
}

void to_proto(const Volume& v, pb::Volume* out) {
  out->set_handle(v.handle);
  out->set_path(v.path);
  out->mutable_properties()->insert(v.properties.begin(), v.properties.end());
  out->set_privileged(v.privileged);
  out->set_parent_handle(v.parent);
}

StreamInWriter::StreamInWriter(std::unique_ptr<grpc::ClientContext> context,
                               std::unique_ptr<pb::Empty> reply,
                               std::unique_ptr<grpc::ClientWriter<pb::StreamInChunk>> writer)
    : context_(std::move(context)), reply_(std::move(reply)), writer_(std::move(writer)) {}

bool StreamInWriter::write(std::string_view data) {
  pb::StreamInChunk chunk;
  chunk.set_data(data.data(), data.size());
  return writer_->Write(chunk);
}

Status StreamInWriter::finish() {
  if (finished_) return ok_status();
  finished_ = true;
  writer_->WritesDone();
  grpc::Status status = writer_->Finish();
  if (!status.ok()) return from_grpc("stream in", status);
  return ok_status();
}

void StreamInWriter::abort() {
  if (finished_) return;
  finished_ = true;
  context_->TryCancel();
  (void)writer_->Finish();
}

Result<std::unique_ptr<Client>> Client::connect(const std::string& address, const TlsFiles& tls) {
  if (!tls.enabled() && !is_loopback_address(address))
    return Error("connect to baggageclaim " + address +
                 ": plaintext is for loopback addresses only; give TLS files");
  auto creds = channel_credentials(tls);
  if (!creds.ok()) return std::move(creds).error().wrap("connect to baggageclaim " + address);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 << 20);
  return std::make_unique<Client>(grpc::CreateCustomChannel(address, *creds, args));
}

Client::Client(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(pb::Volumes::NewStub(channel_)) {}

Result<Volume> Client::create(const CreateSpec& spec) {
  pb::CreateRequest req;
  req.set_handle(spec.handle);
  req.mutable_properties()->insert(spec.properties.begin(), spec.properties.end());
  req.set_privileged(spec.privileged);
  switch (spec.strategy.kind) {
    case Strategy::Kind::kEmpty:
      req.mutable_strategy()->mutable_empty();
      break;
    case Strategy::Kind::kCow:
      req.mutable_strategy()->mutable_cow()->set_parent_handle(spec.strategy.parent);
      break;
    case Strategy::Kind::kImport: {
      auto* import = req.mutable_strategy()->mutable_import();
      import->set_path(spec.strategy.import_path);
      import->set_follow_symlinks(spec.strategy.follow_symlinks);
      break;
    }
  }
  grpc::ClientContext ctx;
  pb::Volume reply;
  if (auto s = stub_->Create(&ctx, req, &reply); !s.ok()) return from_grpc("create volume", s);
  return from_proto(reply);
}

Result<std::vector<Volume>> Client::list(const Properties& filter) {
  pb::ListRequest req;
  req.mutable_properties()->insert(filter.begin(), filter.end());
  grpc::ClientContext ctx;
  pb::ListResponse reply;
  if (auto s = stub_->List(&ctx, req, &reply); !s.ok()) return from_grpc("list volumes", s);
  std::vector<Volume> out;
  for (const auto& v : reply.volumes()) out.push_back(from_proto(v));
  return out;
}

Result<Volume> Client::get(const std::string& handle) {
  pb::GetRequest req;
  req.set_handle(handle);
  grpc::ClientContext ctx;
  pb::Volume reply;
  if (auto s = stub_->Get(&ctx, req, &reply); !s.ok()) return from_grpc("get volume", s);
  return from_proto(reply);
}

Status Client::set_property(const std::string& handle, const std::string& name,
                            const std::string& value) {
  pb::SetPropertyRequest req;
  req.set_handle(handle);
  req.set_name(name);
  req.set_value(value);
  grpc::ClientContext ctx;
  pb::Empty reply;
  if (auto s = stub_->SetProperty(&ctx, req, &reply); !s.ok()) return from_grpc("set property", s);
  return ok_status();
}

Status Client::set_privileged(const std::string& handle, bool privileged) {
  pb::SetPrivilegedRequest req;
  req.set_handle(handle);
  req.set_privileged(privileged);
  grpc::ClientContext ctx;
  pb::Empty reply;
  if (auto s = stub_->SetPrivileged(&ctx, req, &reply); !s.ok())
    return from_grpc("set privileged", s);
  return ok_status();
}

Status Client::destroy(const std::string& handle) {
  pb::DestroyRequest req;
  req.set_handle(handle);
  grpc::ClientContext ctx;
  pb::Empty reply;
  if (auto s = stub_->Destroy(&ctx, req, &reply); !s.ok()) return from_grpc("destroy volume", s);
  return ok_status();
}

Result<std::map<std::string, std::string>> Client::destroy_many(
    const std::vector<std::string>& handles) {
  pb::DestroyManyRequest req;
  for (const auto& h : handles) req.add_handles(h);
  grpc::ClientContext ctx;
  pb::DestroyManyResponse reply;
  if (auto s = stub_->DestroyMany(&ctx, req, &reply); !s.ok())
    return from_grpc("destroy volumes", s);
  return std::map<std::string, std::string>(reply.failed().begin(), reply.failed().end());
}

Result<std::unique_ptr<StreamInWriter>> Client::open_stream_in(const std::string& handle,
                                                               const std::string& path,
                                                               tar::Encoding encoding,
                                                               uint64_t limit) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  auto reply = std::make_unique<pb::Empty>();
  auto writer = stub_->StreamIn(ctx.get(), reply.get());
  pb::StreamInChunk first;
  auto* header = first.mutable_header();
  header->set_handle(handle);
  header->set_path(path);
  header->set_encoding(to_proto(encoding));
  header->set_limit(limit);
  // If the server refuses at once (unknown handle), writes fail and finish() says why.
  (void)writer->Write(first);
  auto stream =
      std::make_unique<StreamInWriter>(std::move(ctx), std::move(reply), std::move(writer));
  return stream;
}

Status Client::stream_in(const std::string& handle, const std::string& path, tar::Encoding encoding,
                         const tar::ReadFn& read, uint64_t limit) {
  auto stream = open_stream_in(handle, path, encoding, limit);
  if (!stream.ok()) return std::move(stream).error();
  for (;;) {
    auto chunk = read();
    if (!chunk.ok()) {
      (*stream)->abort();
      return std::move(chunk).error().wrap("stream in");
    }
    if (chunk->empty()) break;
    if (!(*stream)->write(*chunk)) break;  // the server stopped reading: finish says why
  }
  return (*stream)->finish();
}

Status Client::stream_out(const std::string& handle, const std::string& path,
                          tar::Encoding encoding, const tar::WriteFn& write) {
  pb::StreamOutRequest req;
  req.set_handle(handle);
  req.set_path(path);
  req.set_encoding(to_proto(encoding));
  grpc::ClientContext ctx;
  auto reader = stub_->StreamOut(&ctx, req);
  pb::Chunk chunk;
  Status consumer;
  while (reader->Read(&chunk)) {
    consumer = write(chunk.data());
    if (!consumer.ok()) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!consumer.ok()) return std::move(consumer).error().wrap("stream out");
  if (!status.ok()) return from_grpc("stream out", status);
  return ok_status();
}

Status Client::stream_p2p_out(const std::string& handle, const std::string& path,
                              tar::Encoding encoding, const std::string& destination_address,
                              const std::string& destination_handle,
                              const std::string& destination_path) {
  pb::StreamP2POutRequest req;
  req.set_handle(handle);
  req.set_path(path);
  req.set_encoding(to_proto(encoding));
  req.set_destination_address(destination_address);
  req.set_destination_handle(destination_handle);
  req.set_destination_path(destination_path);
  grpc::ClientContext ctx;
  pb::Empty reply;
  if (auto s = stub_->StreamP2POut(&ctx, req, &reply); !s.ok())
    return from_grpc("stream p2p out", s);
  return ok_status();
}

}  // namespace tarmac::baggageclaim
