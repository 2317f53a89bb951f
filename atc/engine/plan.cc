#include "atc/engine/plan.h"

#include "atc/db/artifacts.h"

namespace tarmac::atc::engine {
namespace {

std::string artifact_input(StepContext& ctx, const std::string& origin,
                           const nlohmann::json& step) {
  auto id = step.find("artifact_id");
  std::string name = step.value("name", "");
  if (id == step.end() || !id->is_number_integer() || name.empty())
    return errored(ctx, origin, "artifact_input: expected an artifact_id and a name");
  auto a = db::ArtifactStore(ctx.pool).find(id->get<int64_t>());
  if (!a) return errored(ctx, origin, "input " + name + ": " + a.error().message());
  // Build creation claimed it; anything else is another build's or team's.
  if (!*a || (*a)->build_id != ctx.build.id)
    return errored(ctx, origin,
                   "input " + name + ": artifact " + std::to_string(id->get<int64_t>()) +
                       " not found for this build");
  auto w = ctx.workers.find((*a)->worker_name);
  if (!w || !*w)
    return errored(ctx, origin, "input " + name + ": worker " + (*a)->worker_name + " is gone");
  ctx.artifacts[name] = {(*a)->worker_name, (*w)->info.address(), (*a)->volume_handle};
  return "succeeded";
}

std::string artifact_output(StepContext& ctx, const std::string& origin,
                            const nlohmann::json& step) {
  std::string name = step.value("name", "");
  auto it = ctx.artifacts.find(name);
  if (it == ctx.artifacts.end()) return errored(ctx, origin, "artifact '" + name + "' not found");
  auto kept = db::ArtifactStore(ctx.pool).keep_output(ctx.build.id, name, it->second.volume_handle);
  if (!kept) return errored(ctx, origin, "output " + name + ": " + kept.error().message());
  return "succeeded";
}

// Statuses in order of precedence when several steps end differently.
int rank(const std::string& status) {
  if (status == "detached") return 5;
  if (status == "aborted") return 4;
  if (status == "errored") return 3;
  if (status == "failed") return 2;
  if (status == "succeeded") return 1;
  return 0;
}

const std::string& worse(const std::string& a, const std::string& b) {
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace

std::string run_plan(StepContext& ctx, const nlohmann::json& plan) {
  if (!plan.is_object()) return errored(ctx, "", "plan: expected an object");
  std::string origin = plan.value("id", "");
  if (plan.contains("task")) return run_task_step(ctx, plan);
  if (auto it = plan.find("artifact_input"); it != plan.end())
    return artifact_input(ctx, origin, *it);
  if (auto it = plan.find("artifact_output"); it != plan.end())
    return artifact_output(ctx, origin, *it);
  if (auto it = plan.find("do"); it != plan.end() && it->is_array()) {
    for (const auto& step : *it) {
      std::string s = run_plan(ctx, step);
      if (s != "succeeded") return s;
    }
    return "succeeded";
  }
  if (auto it = plan.find("in_parallel"); it != plan.end()) {
    // Steps of one-off plans here are artifact bookkeeping: in order is as quick.
    const nlohmann::json& steps = it->is_array() ? *it : it->value("steps", nlohmann::json());
    if (!steps.is_array()) return errored(ctx, origin, "in_parallel: expected steps");
    std::string status = "succeeded";
    for (const auto& step : steps) status = worse(status, run_plan(ctx, step));
    return status;
  }
  // {"ensure": {"step": A, "ensure": B}} and the like, as Concourse's plans nest them.
  for (const char* hook : {"ensure", "on_abort", "on_failure", "on_success"}) {
    auto it = plan.find(hook);
    if (it == plan.end() || !it->is_object()) continue;
    auto first = it->find("step");
    auto next = it->find(hook);
    if (first == it->end() || next == it->end())
      return errored(ctx, origin, std::string(hook) + ": expected step and " + hook);
    std::string status = run_plan(ctx, *first);
    if (status == "detached") return status;
    std::string h = hook;
    bool runs = h == "ensure" || (h == "on_abort" && status == "aborted") ||
                (h == "on_failure" && status == "failed") ||
                (h == "on_success" && status == "succeeded");
    if (!runs) return status;
    std::string after = run_plan(ctx, *next);
    // A failing ensure or on_success hook fails the build; the others keep the step's status.
    if (h == "ensure" || h == "on_success") return worse(status, after);
    return status;
  }
  return errored(ctx, origin, "plan: no step this web node can run (" + plan.dump() + ")");
}

}  // namespace tarmac::atc::engine
