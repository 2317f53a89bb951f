#pragma once

#include <grpcpp/grpcpp.h>

#include "tarmac/worker/v1/containers.grpc.pb.h"
#include "worker/containers/manager.h"

namespace tarmac::containers {

// The container service over a ContainerManager.
class ContainerService final : public worker::v1::Containers::Service {
 public:
  explicit ContainerService(ContainerManager& manager) : manager_(manager) {}

  grpc::Status Create(grpc::ServerContext*, const worker::v1::CreateContainerRequest*,
                      worker::v1::Container*) override;
  grpc::Status List(grpc::ServerContext*, const worker::v1::ListContainersRequest*,
                    worker::v1::ListContainersResponse*) override;
  grpc::Status Get(grpc::ServerContext*, const worker::v1::GetContainerRequest*,
                   worker::v1::Container*) override;
  grpc::Status SetProperty(grpc::ServerContext*, const worker::v1::SetContainerPropertyRequest*,
                           worker::v1::Container*) override;
  grpc::Status Destroy(grpc::ServerContext*, const worker::v1::DestroyContainerRequest*,
                       worker::v1::DestroyContainerResponse*) override;
  grpc::Status Process(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<worker::v1::ProcessOutput, worker::v1::ProcessInput>*) override;

 private:
  ContainerManager& manager_;
};

}  // namespace tarmac::containers
