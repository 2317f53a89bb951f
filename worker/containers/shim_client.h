#pragma once

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "worker/shim/protocol.h"

namespace tarmac::containers {

// Starts tarmac-shim for the process described by <dir>/process.json and waits until the
// process runs (its host pid) or failed to start (the shim's error, naming the step).
Result<pid_t> spawn_shim(const std::string& shim_path, const std::string& dir);

// The same, through one `tarmac-shim --fork-server` started on first use: forking a shim from
// it costs a fraction of exec'ing the binary each time. A server that died is started again;
// if it cannot be, shims are exec'd one by one. Safe for concurrent use.
class ShimSpawner {
 public:
  // `server_args` follow --fork-server (its cgroup root and parent).
  ShimSpawner(std::string shim_path, std::vector<std::string> server_args)
      : shim_path_(std::move(shim_path)), server_args_(std::move(server_args)) {}
  ~ShimSpawner();
  ShimSpawner(const ShimSpawner&) = delete;
  ShimSpawner& operator=(const ShimSpawner&) = delete;

  Result<pid_t> spawn(const std::string& dir);

 private:
  Status start_server();
  void stop_server();
  // Hands `dir` and the report pipe to the server; false if the server is not there.
  bool request(const std::string& dir, int report_fd);

  std::string shim_path_;
  std::vector<std::string> server_args_;
  std::mutex mu_;
  UniqueFd socket_;
  pid_t server_ = -1;
};

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
