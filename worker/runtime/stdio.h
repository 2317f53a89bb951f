#pragma once

#include <string>
#include "common/result.h"
#include "common/unique_fd.h"
#include "worker/runtime/runtime.h"

namespace tarmac::runtime {

// The main process's stdio: the child's three fds, and what the caller keeps.
struct OpenedStdio {
  UniqueFd child[3];
  bool is_pty = false;
  StdioEnds parent;
};

// `ptmx`: for a terminal, the pty multiplexer of the devpts the process will see (a
// container's, through /proc/<pid>/root), so the terminal is a device there and `tty` names
// it; the host's when empty or not openable.
Result<OpenedStdio> open_stdio(const StdioConfig& config, const std::string& ptmx = "");

}  // namespace tarmac::runtime
