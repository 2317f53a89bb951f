#include "atc/engine/placement.h"

#include <algorithm>
#include <random>

namespace tarmac::atc::engine {
namespace {

const std::vector<std::string>& known() {
  static const std::vector<std::string> names = {"volume-locality", "fewest-build-containers",
                                                 "limit-active-tasks", "random"};
  return names;
}

struct Load {
  int build_containers = 0, active_tasks = 0;
};

// Per worker: containers that belong to builds, and task containers of builds still running.
Result<std::map<std::string, Load>> loads(db::Pool& pool,
                                          const std::vector<db::WorkerRecord>& workers) {
  std::vector<std::string> names;
  for (const auto& w : workers) names.push_back(w.info.name());
  auto r = pool.query(
      "SELECT c.worker_name, count(*) FILTER (WHERE c.build_id IS NOT NULL) AS build_containers,"
      " count(*) FILTER (WHERE c.meta->>'type' = 'task' AND b.status IN ('pending', 'started'))"
      " AS active_tasks FROM containers c LEFT JOIN builds b ON b.id = c.build_id"
      " WHERE c.worker_name = ANY($1) AND c.state IN ('creating', 'created')"
      " GROUP BY c.worker_name",
      names);
  if (!r) return std::move(r).error().wrap("placement: count containers");
  std::map<std::string, Load> out;
  for (int i = 0; i < r->size(); ++i)
    out[(*r)[i].str("worker_name")] = {static_cast<int>((*r)[i].i64("build_containers")),
                                       static_cast<int>((*r)[i].i64("active_tasks"))};
  return out;
}

// Keeps the candidates with the lowest `score`.
template <typename F>
void keep_lowest(std::vector<db::WorkerRecord>& ws, F score) {
  if (ws.empty()) return;
  auto best = score(ws.front());
  for (const auto& w : ws) best = std::min(best, score(w));
  std::erase_if(ws, [&](const db::WorkerRecord& w) { return score(w) != best; });
}

}  // namespace

Status validate(const PlacementOptions& options) {
  for (const auto& s : options.strategies)
    if (std::find(known().begin(), known().end(), s) == known().end())
      return Error("--container-placement-strategy: unknown strategy \"" + s +
                       "\" (expected volume-locality, fewest-build-containers, "
                       "limit-active-tasks or random)",
                   EINVAL);
  bool limits = std::find(options.strategies.begin(), options.strategies.end(),
                          "limit-active-tasks") != options.strategies.end();
  if (options.max_active_tasks < 0)
    return Error("--max-active-tasks-per-worker: expected 0 (no limit) or more", EINVAL);
  if (options.max_active_tasks > 0 && !limits)
    return Error(
        "--max-active-tasks-per-worker needs --container-placement-strategy limit-active-tasks",
        EINVAL);
  return ok_status();
}

Result<std::vector<db::WorkerRecord>> narrow(db::Pool& pool,
                                             std::vector<db::WorkerRecord> candidates,
                                             const PlacementOptions& options,
                                             const std::map<std::string, int>& inputs_on) {
  std::optional<std::map<std::string, Load>> load;
  auto load_of = [&](const db::WorkerRecord& w) {
    auto it = load->find(w.info.name());
    return it == load->end() ? Load{} : it->second;
  };
  for (const auto& strategy : options.strategies) {
    if (candidates.size() <= 1 && strategy != "limit-active-tasks") continue;
    if (strategy != "volume-locality" && strategy != "random" && !load) {
      auto l = loads(pool, candidates);
      if (!l) return std::move(l).error();
      load = std::move(*l);
    }
    if (strategy == "volume-locality") {
      keep_lowest(candidates, [&](const db::WorkerRecord& w) {
        auto it = inputs_on.find(w.info.name());
        return -(it == inputs_on.end() ? 0 : it->second);
      });
    } else if (strategy == "fewest-build-containers") {
      keep_lowest(candidates,
                  [&](const db::WorkerRecord& w) { return load_of(w).build_containers; });
    } else if (strategy == "limit-active-tasks") {
      if (options.max_active_tasks > 0)
        std::erase_if(candidates, [&](const db::WorkerRecord& w) {
          return load_of(w).active_tasks >= options.max_active_tasks;
        });
      keep_lowest(candidates, [&](const db::WorkerRecord& w) { return load_of(w).active_tasks; });
    }
  }
  if (candidates.size() > 1) {
    static thread_local std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<size_t> pick(0, candidates.size() - 1);
    return std::vector<db::WorkerRecord>{candidates[pick(rng)]};
  }
  return candidates;
}

}  // namespace tarmac::atc::engine
