#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "baggageclaim/idmap.h"
#include "common/grpc/credentials.h"
#include "common/result.h"

namespace tarmac::worker {

struct WorkerOptions {
  std::string work_dir;  // volumes/, containers/ and runtime/ live here
  std::string bind_ip = "127.0.0.1";
  int bind_port = 7777;
  tarmac::TlsFiles tls;  // mutual TLS, both as server and toward the registry
  std::string volume_driver = "detect";
  baggageclaim::IdRange ids;
  bool idmapped_mounts = true;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_parent = "tarmac";
  // Helpers installed beside the tarmac binary unless given.
  std::string shim_path;
  std::string init_path;
  uint64_t output_retain_bytes = 16 << 20;

  // Registration; none without a registry.
  std::string registry;          // host:port of the web node's registry
  std::string name;              // default: the host name
  std::string external_address;  // what the web node dials; default bind ip:port
  std::string platform = "linux";
  std::vector<std::string> tags;
  std::string team;
  std::string resource_types;  // Concourse's layout: <dir>/<type>/resource_metadata.json
  bool ephemeral = false;
  std::chrono::milliseconds heartbeat_interval{10000};
  int gc_parallelism = 4;
};

enum class DrainMode { kLand, kRetire };

// A worker: the volume service (baggageclaim) and the container service on one gRPC port,
// and the beacon that keeps it registered. Everything it holds is on disk under the work dir
// (guarded by a lock file holding its pid), so a new Worker there after a crash or kill -9
// carries on with the containers, processes and volumes.
class Worker {
 public:
  virtual ~Worker() = default;
  static Result<std::unique_ptr<Worker>> start(WorkerOptions options);

  virtual int port() const = 0;
  // Takes no new containers, waits up to `timeout` for running tasks (or until `interrupted`
  // says stop), tells the registry, and for kRetire removes every container and volume.
  virtual Status drain(DrainMode mode, std::chrono::milliseconds timeout,
                       const std::function<bool()>& interrupted) = 0;
  // Stops serving; calls in flight get `grace`, then are cancelled. Containers keep running.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

// The directory of the running executable (helpers are looked for there).
std::string executable_dir();

// The pid of the worker using `work_dir`, from its lock file; an error naming the file if no
// worker holds it.
Result<pid_t> running_worker_pid(const std::string& work_dir);

}  // namespace tarmac::worker
