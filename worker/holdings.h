#pragma once

#include "baggageclaim/store.h"
#include "worker/beacon/holdings.h"
#include "worker/containers/manager.h"

namespace tarmac::worker {

// The beacon's view of the worker: its containers and the volumes the web node may own.
class WorkerHoldings final : public beacon::Holdings {
 public:
  WorkerHoldings(containers::ContainerManager& containers, baggageclaim::Store& volumes)
      : containers_(containers), volumes_(volumes) {}

  std::vector<std::string> container_handles() const override { return containers_.handles(); }
  std::vector<std::string> volume_handles() const override;
  int active_tasks() const override { return containers_.active_tasks(); }
  Status destroy_container(const std::string& handle) override {
    return containers_.destroy(handle);
  }
  std::vector<std::pair<std::string, std::string>> destroy_volumes(
      const std::vector<std::string>& handles) override;

 private:
  containers::ContainerManager& containers_;
  baggageclaim::Store& volumes_;
};

}  // namespace tarmac::worker
