#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <thread>

#include "atc/db/builds.h"
#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "atc/engine/build_locks.h"
#include "atc/engine/placement.h"
#include "atc/engine/worker_client.h"
#include "common/grpc/credentials.h"

namespace tarmac::atc::engine {

struct EngineOptions {
  TlsFiles worker_tls;  // the web node's certificate for dialing workers
  std::chrono::milliseconds poll{1000};
  // A finished one-off build's containers stay this long for `fly intercept`.
  int64_t intercept_grace_s = 300;
  PlacementOptions placement;
};

// Runs builds: claims pending ones (SKIP LOCKED, so several web nodes share the work), places
// each step on a worker, records every container and volume before making it, and writes
// the build's events. A build it runs is held by an advisory lock; started builds nobody
// holds are resumed (their tasks attached to where the log stopped).
class Engine {
 public:
  Engine(db::Pool& pool, db::WorkerStore& workers, EngineOptions options);
  ~Engine();
  void start();
  void stop();
  // A build was just created here: look now rather than at the next poll.
  void wake();
  WorkerClients& clients() { return clients_; }

 private:
  void loop();
  // Builds left started by an engine that is gone (its locks went with its session).
  void resume_orphans();
  void spawn(int64_t id);
  void run_build(int64_t id);

  db::Pool& pool_;
  db::WorkerStore& workers_;
  db::BuildStore builds_;
  EngineOptions options_;
  WorkerClients clients_;
  BuildLocks locks_;
  std::mutex mu_;
  std::condition_variable cv_;
  // Set under mu_ (for the loop's wait); read without it by running steps.
  std::atomic<bool> stopping_{false};
  bool woken_ = false;
  std::thread loop_;
  struct Running {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Running> running_;
};

}  // namespace tarmac::atc::engine
