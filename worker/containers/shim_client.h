#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"
#include "worker/shim/protocol.h"

namespace tarmac::containers {

// Starts tarmac-shim for the process described by <dir>/process.json and waits until the
// process runs (its host pid) or failed to start (the shim's error, naming the step).
Result<pid_t> spawn_shim(const std::string& shim_path, const std::string& dir);

// A connection to a running process's shim. Safe to send from one thread while another
// waits.
class ShimConnection {
 public:
  // nullopt when no shim listens there any more (the process has ended, or its shim died).
  static Result<std::optional<ShimConnection>> connect(const std::string& dir);

  Status send_stdin(std::string_view data);
  Status close_stdin();
  Status resize(uint16_t rows, uint16_t columns);
  Status signal(int sig);

  // Waits up to `timeout_ms` for a wake-up: kOutput, kExited; nullopt on timeout. An error
  // means the shim went away.
  Result<std::optional<shim::Message>> wait(int timeout_ms);

 private:
  explicit ShimConnection(UniqueFd fd) : fd_(std::move(fd)) {}
  Status send(shim::Message type, std::string_view payload);

  UniqueFd fd_;
};

}  // namespace tarmac::containers
