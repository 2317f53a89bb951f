#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "worker/runtime/spec.h"

namespace tarmac::runtime {

// How a process ended.
struct ExitStatus {
  int exit_code = 0;        // valid when signal == 0
  int signal = 0;           // the signal that killed it, or 0
  bool oom_killed = false;  // the kernel's OOM killer ended it inside the memory limit

  bool success() const { return signal == 0 && exit_code == 0; }
  // The shell's convention: the exit code, or 128 + the signal.
  int shell_code() const { return signal ? 128 + signal : exit_code; }
  std::string describe() const;
};

// Where the main process's stdin, stdout and stderr go.
struct StdioConfig {
  enum class Mode {
    kNull,     // /dev/null for all three
    kPipes,    // pipes; the caller gets the other ends in CreatedContainer
    kPty,      // one pseudo-terminal; the caller gets the master
    kFiles,    // stdout/stderr appended to files (created 0600 if missing), stdin /dev/null
    kInherit,  // the caller's own 0, 1 and 2 (bpm run in the foreground)
  };
  Mode mode = Mode::kNull;
  std::string stdout_path;  // kFiles
  std::string stderr_path;  // kFiles
  uid_t files_owner = 0;    // kFiles: owner of files this creates
  gid_t files_group = 0;
  uint16_t rows = 0;  // kPty: the terminal's size from the start (0: the kernel's default)
  uint16_t columns = 0;
};

// The caller's ends of the main process's stdio, when it asked for pipes or a pty.
struct StdioEnds {
  UniqueFd stdin_fd;    // write end (pipes)
  UniqueFd stdout_fd;   // read end (pipes)
  UniqueFd stderr_fd;   // read end (pipes)
  UniqueFd pty_master;  // kPty
};

// A process started in a running container after its main process (bpm shell, fly
// intercept). It lives in the container's namespaces and cgroup with the container's
// capabilities, seccomp filter and user mapping.
class ExecutedProcess {
 public:
  virtual ~ExecutedProcess() = default;
  // Host pid of the process.
  virtual pid_t pid() const = 0;
  virtual StdioEnds& stdio() = 0;
  virtual Result<ExitStatus> wait() = 0;
  // The exit status if the process has ended, nullopt while it runs; never blocks.
  virtual Result<std::optional<ExitStatus>> poll() = 0;
  virtual Status signal(int sig) = 0;
};
using ExecutedProcessPtr = std::unique_ptr<ExecutedProcess>;

// A running (or ended) container. Not thread-safe; one object per caller. The container
// itself outlives this object and the process that made it: Runtime::find gets it back.
class Container {
 public:
  virtual ~Container() = default;

  virtual const std::string& id() const = 0;
  // Host pid of the container's init (pid 1 inside its pid namespace).
  virtual pid_t init_pid() const = 0;

  // Blocks until the main process has ended and returns how it ended.
  virtual Result<ExitStatus> wait() = 0;
  // The exit status if the main process has ended, nullopt while it runs.
  virtual Result<std::optional<ExitStatus>> poll() = 0;
  // Sends `sig` to the main process (through init, which forwards it).
  virtual Status signal(int sig) = 0;
  // The spec's stop signal, up to `grace` for the process to end, then SIGKILL to every
  // process of the container.
  virtual Result<ExitStatus> stop(std::chrono::milliseconds grace) = 0;
  // Kills whatever still runs and removes the container's cgroups and state: afterwards no
  // process, mount, cgroup or state file of it remains.
  virtual Status destroy() = 0;
  // Starts `process` inside the running container.
  virtual Result<ExecutedProcessPtr> exec(const Process& process, const StdioConfig& stdio) = 0;
};
using ContainerPtr = std::unique_ptr<Container>;

struct CreatedContainer {
  ContainerPtr container;
  StdioEnds stdio;
};

struct RuntimeOptions {
  // Holds one directory of state per container; survives the caller's restart.
  std::string run_dir = "/run/tarmac/runtime";
  // Where cgroups live ("/sys/fs/cgroup") and the parent cgroup of every container.
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string cgroup_parent = "tarmac";
  // The static init binary run as pid 1 in each container; empty = next to this executable.
  std::string init_path;
  // The compiled default seccomp profile (write_default_seccomp); empty = compile it here.
  std::string seccomp_file;

  bool operator==(const RuntimeOptions&) const = default;
};

// Creates and finds containers. One per process is enough; it is safe to call from any
// thread (each call works on its own container).
class Runtime {
 public:
  virtual ~Runtime() = default;

  // Sets the container up and starts its main process. Every failure names the step, the
  // path and the errno, and leaves nothing behind.
  virtual Result<CreatedContainer> create(const ContainerSpec& spec, const StdioConfig& stdio) = 0;
  // A container made earlier, by this process or an earlier one.
  virtual Result<ContainerPtr> find(const std::string& id) = 0;
  // Ids of every container under the run dir.
  virtual Result<std::vector<std::string>> list() = 0;
};
using RuntimePtr = std::unique_ptr<Runtime>;

Result<RuntimePtr> make_runtime(RuntimeOptions options);

// Rejects ids that could not be a directory name under the run dir: 1 to 200 of
// [A-Za-z0-9_.-], not "." or "..".
Status validate_container_id(const std::string& id);

}  // namespace tarmac::runtime
