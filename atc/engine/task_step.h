#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "atc/db/builds.h"
#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "atc/engine/engine.h"
#include "atc/engine/events.h"
#include "atc/engine/worker_client.h"

namespace tarmac::atc::engine {

struct StepContext {
  db::Pool& pool;
  db::WorkerStore& workers;
  EventWriter& events;
  const db::BuildRecord& build;
  const EngineOptions& options;
  const std::atomic<bool>& stopping;
  WorkerClients& clients;
};

// Runs a task plan ({"id", "task": {"name", "config", "privileged", "tags"}}): picks a worker,
// makes the working dir volume and the container on the image, runs the task and streams its
// output as log events. Returns the build status it leads to: succeeded, failed (non-zero
// exit) or errored (with an error event saying why).
std::string run_task_step(StepContext& ctx, const nlohmann::json& step);

}  // namespace tarmac::atc::engine
