#pragma once

#include <memory>
#include <string>

#include "baggageclaim/credentials.h"
#include "baggageclaim/idmap.h"
#include "common/result.h"

namespace tarmac::worker {

struct WorkerOptions {
  std::string work_dir;  // volumes/, containers/ and runtime/ live here
  std::string bind_ip = "127.0.0.1";
  int bind_port = 7777;
  baggageclaim::TlsFiles tls;  // mutual TLS; plaintext only on loopback
  std::string volume_driver = "detect";
  baggageclaim::IdRange ids;
  bool idmapped_mounts = true;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_parent = "tarmac";
  // Helpers installed beside the tarmac binary unless given.
  std::string shim_path;
  std::string init_path;
  uint64_t output_retain_bytes = 16 << 20;
};

// A worker: the volume service (baggageclaim) and the container service on one gRPC port.
// Everything it holds is on disk under the work dir, so a new Worker on the same work dir
// (after a crash or kill -9) carries on with the containers, processes and volumes there.
class Worker {
 public:
  virtual ~Worker() = default;
  static Result<std::unique_ptr<Worker>> start(WorkerOptions options);

  virtual int port() const = 0;
  // Stops serving; calls in flight get `grace`, then are cancelled. Containers keep running.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

// The directory of the running executable (helpers are looked for there).
std::string executable_dir();

}  // namespace tarmac::worker
