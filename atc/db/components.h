#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "atc/db/pool.h"

namespace tarmac::atc::db {

// Runs a periodic job (`name`: "gc", "workers", …) if it is due — it last ran at least
// `interval` ago by the database's clock — and no other web node is running it (an
// advisory lock). Returns whether it ran here. With several web nodes on one database,
// each pass runs on one of them, once.
Result<bool> run_if_due(Pool& pool, const std::string& name, std::chrono::milliseconds interval,
                        const std::function<Status()>& fn);

}  // namespace tarmac::atc::db
