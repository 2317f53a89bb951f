#pragma once

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

Result<OpenedStdio> open_stdio(const StdioConfig& config);

}  // namespace tarmac::runtime
