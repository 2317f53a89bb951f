#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "atc/db/builds.h"
#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "atc/engine/engine.h"
#include "atc/engine/events.h"
#include "atc/engine/worker_client.h"

namespace tarmac::atc::engine {

// A named artifact of the running build: a volume on a worker.
struct ArtifactRef {
  std::string worker_name, worker_address, volume_handle;
};

struct StepContext {
  db::Pool& pool;
  db::WorkerStore& workers;
  EventWriter& events;
  const db::BuildRecord& build;
  const EngineOptions& options;
  const std::atomic<bool>& stopping;
  WorkerClients& clients;
  // What earlier steps made (uploads, task outputs), by name.
  std::map<std::string, ArtifactRef> artifacts;
};

// Runs a task plan ({"id", "task": {"name", "config", "privileged", "tags", "input_mapping",
// "output_mapping"}}): picks a worker, gives the container its inputs (copy-on-write where
// the artifact is already on that worker, streamed otherwise), runs the task, streams its
// output as log events and keeps its outputs as artifacts. Returns the build status it
// leads to: succeeded, failed (non-zero exit), aborted, or errored (with an error event
// saying why).
std::string run_task_step(StepContext& ctx, const nlohmann::json& step);

// Records an error event for the step and returns the status "errored".
std::string errored(StepContext& ctx, const std::string& origin, const std::string& message);

}  // namespace tarmac::atc::engine
