#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "atc/db/builds.h"

namespace tarmac::atc::engine {

// Writes a build's events in Concourse's format (atc/event/types.go): each with its type,
// version and data, the origin of step events being the plan id.
class EventWriter {
 public:
  EventWriter(db::BuildStore& builds, int64_t build_id) : builds_(builds), build_(build_id) {}

  Status waiting_for_worker(const std::string& origin);
  Status selected_worker(const std::string& origin, const std::string& worker);
  Status initialize_task(const std::string& origin, const nlohmann::json& config);
  Status start_task(const std::string& origin);
  Status log(const std::string& origin, bool is_stderr, const std::string& payload);
  // Output of `container`'s process up to `next_offset`, kept with the event (see
  // BuildStore::append_event).
  Status output(const std::string& origin, bool is_stderr, const std::string& payload,
                const std::string& container, uint64_t next_offset);
  Status finish_task(const std::string& origin, int exit_status);
  Status error(const std::string& origin, const std::string& message);
  Status status(const std::string& status);

 private:
  Status write(const std::string& type, const std::string& version, nlohmann::json data,
               const std::string& container = "", uint64_t offset = 0);
  db::BuildStore& builds_;
  int64_t build_;
};

}  // namespace tarmac::atc::engine
