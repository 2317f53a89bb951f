#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "baggageclaim/client.h"
#include "common/grpc/credentials.h"
#include "common/result.h"
#include "tarmac/worker/v1/containers.grpc.pb.h"

namespace tarmac::atc::engine {

// The web node's client of one worker's container and volume services (mutual TLS with the
// web node's certificate when it has one; plaintext only to loopback addresses).
class WorkerClient {
 public:
  static Result<std::unique_ptr<WorkerClient>> connect(const std::string& address,
                                                       const TlsFiles& tls);

  // The volume with exactly these properties, if the worker has one.
  Result<std::optional<std::string>> find_volume(const std::map<std::string, std::string>& props);
  // A volume imported from a directory of the worker's host.
  Status import_volume(const std::string& handle, const std::string& path,
                       const std::map<std::string, std::string>& props);
  // An empty volume (unprivileged ones are mapped for unprivileged containers).
  Status empty_volume(const std::string& handle, bool privileged,
                      const std::map<std::string, std::string>& props);
  // A copy-on-write child of `parent` (an input of a task on the artifact's own worker).
  Status cow_volume(const std::string& handle, const std::string& parent, bool privileged);
  Status create_container(const worker::v1::ContainerSpec& spec);
  Status destroy_container(const std::string& handle);

  // Output as it comes: which stream, the bytes, and the offset to attach from to get what
  // follows.
  using OutputFn = std::function<void(bool is_stderr, const std::string& data, uint64_t next)>;
  struct Controls {
    // Asked twice a second: once true, the process gets SIGTERM and, ten seconds later,
    // SIGKILL.
    std::function<bool()> aborted;
    // Asked twice a second: once true, the stream is let go (ECANCELED) and the process
    // runs on.
    std::function<bool()> detach;
    // Bytes of output the worker no longer had when attaching.
    std::function<void(uint64_t)> on_dropped;
  };

  // Runs a process, following its output to its exit status (128 + signal for a signal).
  Result<int> run(const std::string& handle, const worker::v1::ProcessSpec& process,
                  const OutputFn& on_output, const Controls& controls = {});
  // Follows a process already started (by an engine that stopped) from `from_offset`.
  Result<int> attach(const std::string& handle, const std::string& process_id, uint64_t from_offset,
                     const OutputFn& on_output, const Controls& controls = {});

  // A process stream of one's own (fly intercept): `first` (run or attach) sent, the rest
  // up to the caller. One reader and one writer may use it at once.
  struct ProcessStream {
    std::unique_ptr<grpc::ClientContext> context;
    std::unique_ptr<grpc::ClientReaderWriter<worker::v1::ProcessInput, worker::v1::ProcessOutput>>
        stream;
  };
  Result<ProcessStream> open_process(const worker::v1::ProcessInput& first,
                                     const std::string& what = "start process");

  // The worker's volume service, for streaming into and out of volumes.
  baggageclaim::Client& volumes() { return *volumes_; }

 private:
  Status create_volume(const baggageclaim::CreateSpec& spec);
  Result<int> follow(const worker::v1::ProcessInput& first, const std::string& what,
                     const OutputFn& on_output, const Controls& controls);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<worker::v1::Containers::Stub> containers_;
  std::unique_ptr<baggageclaim::Client> volumes_;
};

// One client per worker address, kept: a channel (and its TLS session) serves every step on
// that worker instead of a handshake per step. gRPC channels reconnect by themselves.
class WorkerClients {
 public:
  explicit WorkerClients(TlsFiles tls) : tls_(std::move(tls)) {}
  Result<std::shared_ptr<WorkerClient>> get(const std::string& address);

 private:
  TlsFiles tls_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<WorkerClient>> clients_;
};

}  // namespace tarmac::atc::engine
