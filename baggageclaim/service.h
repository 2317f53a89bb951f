#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "baggageclaim/store.h"
#include "common/grpc/credentials.h"
#include "common/result.h"
#include "tarmac/baggageclaim/v1/baggageclaim.grpc.pb.h"

namespace tarmac::baggageclaim {

// The volume service over a Store. The worker embeds it; the `baggageclaim` binary serves it
// alone.
class VolumeService final : public v1::Volumes::Service {
 public:
  // `peer_tls` is what this server presents when it dials another baggageclaim (p2p).
  VolumeService(Store& store, TlsFiles peer_tls) : store_(store), peer_tls_(std::move(peer_tls)) {}

  grpc::Status Create(grpc::ServerContext*, const v1::CreateRequest*, v1::Volume*) override;
  grpc::Status List(grpc::ServerContext*, const v1::ListRequest*, v1::ListResponse*) override;
  grpc::Status Get(grpc::ServerContext*, const v1::GetRequest*, v1::Volume*) override;
  grpc::Status SetProperty(grpc::ServerContext*, const v1::SetPropertyRequest*,
                           v1::Empty*) override;
  grpc::Status SetPrivileged(grpc::ServerContext*, const v1::SetPrivilegedRequest*,
                             v1::Empty*) override;
  grpc::Status Destroy(grpc::ServerContext*, const v1::DestroyRequest*, v1::Empty*) override;
  grpc::Status DestroyMany(grpc::ServerContext*, const v1::DestroyManyRequest*,
                           v1::DestroyManyResponse*) override;
  grpc::Status StreamIn(grpc::ServerContext*, grpc::ServerReader<v1::StreamInChunk>*,
                        v1::Empty*) override;
  grpc::Status StreamOut(grpc::ServerContext*, const v1::StreamOutRequest*,
                         grpc::ServerWriter<v1::Chunk>*) override;
  grpc::Status StreamP2POut(grpc::ServerContext*, const v1::StreamP2POutRequest*,
                            v1::Empty*) override;

 private:
  Store& store_;
  TlsFiles peer_tls_;
};

}  // namespace tarmac::baggageclaim
