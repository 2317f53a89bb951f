#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "tarmac/runtime/v1/state.pb.h"
#include "worker/runtime/runtime.h"

namespace tarmac::runtime {

// The run dir: one directory per container holding its ContainerState twice — state.pb
// (binary, what load reads: fast to parse in a freshly forked shim) and state.json (for
// people, and read when state.pb is absent) — and the exit file the container's init writes.
class StateStore {
 public:
  explicit StateStore(std::string run_dir) : run_dir_(std::move(run_dir)) {}

  std::string dir(const std::string& id) const { return run_dir_ + "/" + id; }
  std::string exit_path(const std::string& id) const { return dir(id) + "/exit"; }

  // Makes the container's directory; an error if it already exists.
  Status create(const std::string& id);
  Status save(const v1::ContainerState& state);
  // state.pb alone: for the short-lived "creating" state, which only a crashed creator's
  // cleanup reads. save() writes both once the container runs.
  Status save_binary(const v1::ContainerState& state);
  Result<v1::ContainerState> load(const std::string& id) const;
  Status remove(const std::string& id) const;
  Result<std::vector<std::string>> ids() const;

  // The status init recorded, nullopt while the main process runs.
  Result<std::optional<ExitStatus>> read_exit(const std::string& id) const;

 private:
  std::string run_dir_;
};

// The first state a process reads or writes builds protobuf's JSON type tables (about 2 ms
// on a small VM). A fork server calls this once, so that what it forks starts with them.
void prepare_state_codec();

// The exit file's text, as init writes it: "exited 3\n" or "signaled 9\n".
Result<ExitStatus> parse_exit_record(const std::string& text);
std::string exit_record(const ExitStatus& st);

}  // namespace tarmac::runtime
