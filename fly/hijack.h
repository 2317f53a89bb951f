#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "fly/flyrc.h"

namespace tarmac::fly {

struct HijackResult {
  int exit_status = 0;
  bool executable_not_found = false;
};

// Runs `spec` (Concourse's HijackProcessSpec) in a container over the target's hijack
// WebSocket: this terminal's stdin goes to the process (raw, with its window size, when it
// is a terminal), its output comes back here, until it exits. Not `interactive`: no stdin
// (closed at once) and no terminal.
Result<HijackResult> hijack(const Target& target, const std::string& handle,
                            const nlohmann::json& spec, bool interactive = true);

}  // namespace tarmac::fly
