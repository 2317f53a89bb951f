#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "atc/engine/task_step.h"

namespace tarmac::atc::engine {

// Runs a build plan in Concourse's shape: `do` (a list, stops at the first step that does
// not succeed), `in_parallel` ({"steps": [...]}), `ensure` ({"step": A, "ensure": B}: B
// always runs), `on_abort`/`on_failure`/`on_success`, and the steps `task`,
// `artifact_input` (an upload, by id) and `artifact_output` (keeps a named artifact for
// download). Returns the status the plan leads to, or "detached" when the engine stopped
// mid-way and left the build for the next one to resume.
std::string run_plan(StepContext& ctx, const nlohmann::json& plan);

}  // namespace tarmac::atc::engine
