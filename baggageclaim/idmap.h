#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim {

// How unprivileged containers see ids: container id c is host id host_base + c for
// c < size. The worker's runtime must use the same range for its user namespaces.
struct IdRange {
  uid_t host_base = 100000;
  uint32_t size = 65536;
};

// A user namespace (as an fd) whose maps are "0 host_base size", for idmapped mounts.
Result<UniqueFd> make_userns(const IdRange& range);

// Mounts an idmapped view of the directory `source` at `target`: a file owned by c on disk
// shows as host_base + c through the view. Non-recursive (mounts below `source` are not
// part of the view).
Status mount_idmapped(const std::string& source, const std::string& target, int userns_fd);

// While alive, the calling thread's filesystem ids are host_base (its effective
// capabilities kept), so files it creates through an idmapped view land on disk owned by
// container root and overlayfs records it as a mounter that the view can map. Other threads
// are untouched: fsuid and capabilities are per thread.
class ScopedMappedFsIds {
 public:
  explicit ScopedMappedFsIds(const IdRange& range, bool enabled = true);
  ~ScopedMappedFsIds();
  ScopedMappedFsIds(const ScopedMappedFsIds&) = delete;
  ScopedMappedFsIds& operator=(const ScopedMappedFsIds&) = delete;
  const Status& status() const { return status_; }

 private:
  bool active_ = false;
  Status status_;
};

}  // namespace tarmac::baggageclaim
