#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "atc/db/pool.h"

namespace tarmac::atc::db {

struct BuildRecord {
  int64_t id = 0;
  std::string name, team, status, created_by;
  int64_t create_time = 0, start_time = 0, end_time = 0;  // unix seconds; 0 = not yet
  bool aborted = false;
  std::string plan;  // JSON text; "" if none
  bool finished() const { return status != "pending" && status != "started"; }
};

struct BuildEvent {
  int event_id = 0;
  std::string type, version, payload;  // payload: the event's "data" as JSON text
};

// Build log retention (Concourse's --default-days-to-retain-build-logs and
// --default-build-logs-to-retain, applied per team to its builds): 0 = keep.
struct LogRetention {
  int64_t days = 0;
  int64_t builds = 0;
};

struct BuildPage {
  std::vector<BuildRecord> builds;    // newest first
  std::optional<int64_t> next_until;  // ids below this are the next page
};

// Bumped whenever this process writes a build event or ends a build, so that event streams
// served here can look at the database only when something may have changed (and once a
// second anyway, for what other web nodes write).
uint64_t build_changes();

// Builds and their events, by query group: the engine creates and finishes them, the API
// reads, pages and aborts them.
class BuildStore {
 public:
  explicit BuildStore(Pool& pool) : pool_(pool) {}

  // A one-off build of `team` with its plan, pending; its name is its id, as Concourse's.
  // Uploads named by the plan's artifact_input steps are claimed in the same transaction.
  Result<BuildRecord> create_one_off(const std::string& team, const std::string& plan_json,
                                     const std::string& created_by,
                                     const std::vector<int64_t>& artifact_ids = {});
  Result<std::optional<BuildRecord>> find(int64_t id);
  // Builds of `teams` (every team when `all`), newest first, below `until` if given.
  Result<BuildPage> list(const std::vector<std::string>& teams, bool all, int limit,
                         std::optional<int64_t> until);

  Status start(int64_t id);
  // Final status; `interceptible_for_s`: how long its containers stay for intercept.
  Status finish(int64_t id, const std::string& status, int64_t interceptible_for_s);
  // Marks the build aborted; a pending one ends at once (status aborted). Returns whether it
  // ended now (the engine ends a started one).
  Result<bool> abort(int64_t id);

  // Appends an event; its id is the build's next. With a `container`, the event carries its
  // process's output and the same statement records `offset`, where to attach to the process
  // from for what follows.
  Result<int> append_event(int64_t build_id, const std::string& type, const std::string& version,
                           const std::string& payload_json, const std::string& container = "",
                           int64_t offset = 0);
  // Events with ids greater than `after` (-1: from the start), in order: at most `limit`
  // single rows, plus whole compacted chunks.
  Result<std::vector<BuildEvent>> events(int64_t build_id, int after, int limit);

  // Packs a finished build's event rows into compressed chunks (same ids, same payloads);
  // nothing for a build still running.
  Status compact_events(int64_t build_id);
  // Finished builds whose events are not compacted yet (the engine that ran them stopped
  // before it could), oldest first.
  Result<std::vector<int64_t>> uncompacted(int limit);
  // Removes the events of finished builds beyond the retention; how many builds lost theirs.
  Result<int64_t> reap_logs(const LogRetention& keep);

 private:
  Pool& pool_;
};

}  // namespace tarmac::atc::db
