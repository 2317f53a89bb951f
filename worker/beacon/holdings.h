#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::beacon {

// What the worker holds, as the beacon reports it and the reaper destroys it. The worker
// implements it over its container manager and volume store; tests may fake it.
class Holdings {
 public:
  virtual ~Holdings() = default;
  virtual std::vector<std::string> container_handles() const = 0;
  // Volumes the web node may own: not the root filesystems the worker made for its
  // containers (those go with their container).
  virtual std::vector<std::string> volume_handles() const = 0;
  // Containers with a process still running: what a drain waits for.
  virtual int active_tasks() const = 0;
  virtual Status destroy_container(const std::string& handle) = 0;
  // Destroys a batch, children before parents; the handles that failed, with why.
  virtual std::vector<std::pair<std::string, std::string>> destroy_volumes(
      const std::vector<std::string>& handles) = 0;
};

}  // namespace tarmac::beacon
