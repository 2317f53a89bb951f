#pragma once

#include <map>
#include <string>
#include <vector>

#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "common/result.h"

namespace tarmac::atc::engine {

// Concourse's container placement strategies, applied in the order given, each narrowing
// the candidates of the one before: volume-locality (most of the step's inputs already
// there), fewest-build-containers, limit-active-tasks (under the per-worker limit, fewest
// first), random. One of what remains is picked at random.
struct PlacementOptions {
  std::vector<std::string> strategies = {"volume-locality", "fewest-build-containers"};
  int max_active_tasks = 0;  // limit-active-tasks: 0 = no limit
};

// Names a strategy that is not one of Concourse's, or a limit without its strategy.
Status validate(const PlacementOptions& options);

// The workers the step may go to now; empty when every candidate is at its task limit.
// `inputs_on`: how many of the step's inputs each worker holds.
Result<std::vector<db::WorkerRecord>> narrow(db::Pool& pool,
                                             std::vector<db::WorkerRecord> candidates,
                                             const PlacementOptions& options,
                                             const std::map<std::string, int>& inputs_on);

}  // namespace tarmac::atc::engine
