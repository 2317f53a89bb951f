#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/grpc/credentials.h"
#include "tarmac/registry/v1/registry.grpc.pb.h"
#include "worker/beacon/holdings.h"
#include "worker/beacon/reaper.h"

namespace tarmac::beacon {

struct BeaconOptions {
  std::string registry;             // host:port of the web node's registry
  tarmac::TlsFiles tls;             // the worker's certificate and key, and the CA
  registry::v1::WorkerInfo worker;  // name, address, platform, tags, team, version, ...
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  int gc_parallelism = 4;
  // Told the state each answer gives (from the beacon's thread): an operator's landing
  // (`fly land-worker`) arrives this way.
  std::function<void(registry::v1::WorkerState)> on_answer;
};

// Registers the worker with the registry and heartbeats every interval from a thread of its
// own: each beat carries the handles held and what the reaper destroyed; each answer's
// destroy lists go to the reaper. A registry that forgot the worker gets a new registration;
// one that fails is retried with exponential backoff, never in a tight loop. An answer that
// says `landed` ends the registration: the beats stop until the worker starts again.
class Beacon {
 public:
  static Result<std::unique_ptr<Beacon>> start(BeaconOptions options, Holdings& holdings);
  ~Beacon();

  // Landing or retiring from now on; the next beat goes at once.
  void set_state(registry::v1::WorkerState state);
  // Stop heartbeating and tell the registry the drain is over.
  Status land();
  Status retire();

 private:
  Beacon(BeaconOptions options, Holdings& holdings,
         std::unique_ptr<registry::v1::Registry::Stub> stub);
  void run();
  void stop_beating();
  Status register_once();
  Status beat_once();
  registry::v1::WorkerInfo info(size_t containers, size_t volumes) const;

  BeaconOptions options_;
  Holdings& holdings_;
  Reaper reaper_;
  std::unique_ptr<registry::v1::Registry::Stub> stub_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  registry::v1::WorkerState state_ = registry::v1::RUNNING;
  bool registered_ = false;
  bool wake_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tarmac::beacon
