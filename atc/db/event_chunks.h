#pragma once

#include <string>
#include <vector>

#include "atc/db/builds.h"
#include "common/result.h"

namespace tarmac::atc::db {

// Build events packed for storage: a run of events as JSON lines ({"i","t","v","p"}),
// compressed with zstd. A build's log repeats itself (origins, times, the JSON around each
// line), so once its events stop changing they take a fraction of their row-per-event
// size.
std::string pack_events(const std::vector<BuildEvent>& events);
Result<std::vector<BuildEvent>> unpack_events(std::string_view packed);

// bytea as PostgreSQL's hex text form ("\x0a1b…") and back.
std::string to_bytea_hex(std::string_view bytes);
Result<std::string> from_bytea_hex(std::string_view text);

}  // namespace tarmac::atc::db
