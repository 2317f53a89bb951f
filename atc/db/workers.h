#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "atc/db/pool.h"
#include "tarmac/registry/v1/registry.pb.h"

namespace tarmac::atc::db {

// A worker as the web node keeps it. `info` is what the worker last said of itself, with the
// state as the web node has it.
struct WorkerRecord {
  registry::v1::WorkerInfo info;
  std::string team;        // "" for a worker of every team
  int64_t expires_at = 0;  // unix ms: past it, a running worker is stalled
};

std::string state_name(registry::v1::WorkerState s);
// A worker's resource types as Concourse's JSON ([{type, image, version, privileged,
// unique_version_history}]).
nlohmann::json resource_types_json(const registry::v1::WorkerInfo& info);
registry::v1::WorkerState parse_state(const std::string& s);

// The workers table, by query group: registration and beats from the registry, operator
// actions from the API, and state changes from the periodic pass.
class WorkerStore {
 public:
  explicit WorkerStore(Pool& pool) : pool_(pool) {}

  // Saves a worker that (re)registers: a new row, or the old one updated. Its state is the
  // one it states (running unless it is draining); its team must exist (ENOENT).
  Result<WorkerRecord> save(const registry::v1::WorkerInfo& info);
  // A beat: counts and time-to-live refreshed; a stalled worker is running again; a landing
  // or retiring state set by an operator is kept. ENOENT if the worker is not registered.
  Result<WorkerRecord> beat(const registry::v1::WorkerInfo& info);

  Result<std::optional<WorkerRecord>> find(const std::string& name);
  // Every worker, by name.
  Result<std::vector<WorkerRecord>> list();

  // The workers a step of `team` may be placed on, as Concourse chooses: running only
  // (stalled, landing, landed and retiring workers get no new work); the platform matches;
  // a step with tags needs every one of them and an untagged step takes only untagged
  // workers; the team's own workers if any fit, else the workers of every team.
  Result<std::vector<WorkerRecord>> available(const std::string& team, const std::string& platform,
                                              const std::vector<std::string>& tags);

  // Operator actions (API): landing / retiring for a worker that is running; prune deletes
  // a worker that is not running (EBUSY if it is, as Concourse refuses).
  Status land(const std::string& name);
  Status retire(const std::string& name);
  Status prune(const std::string& name);
  // The worker drained and said so: landed, or gone.
  Status landed(const std::string& name);
  Status remove(const std::string& name);

  struct Transitions {
    std::vector<std::string> stalled, landed, retired, expired_ephemeral;
  };
  // The periodic pass: running workers past their time-to-live → stalled (ephemeral ones
  // are deleted); landing → landed and retiring → deleted once no unfinished build has a
  // container there.
  Result<Transitions> transition();

 private:
  Pool& pool_;
};

}  // namespace tarmac::atc::db
