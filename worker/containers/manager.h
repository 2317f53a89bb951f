#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "baggageclaim/idmap.h"
#include "baggageclaim/store.h"
#include "common/background_remover.h"
#include "common/dir_spreader.h"
#include "common/result.h"
#include "tarmac/worker/v1/containers.pb.h"
#include "worker/containers/shim_client.h"
#include "worker/runtime/runtime.h"

namespace tarmac::containers {

// The property naming the container a root filesystem volume belongs to.
inline constexpr const char* kRootfsOwnerProperty = "tarmac.container";

struct ManagerOptions {
  std::string dir;  // one directory per container: container.json, processes/<id>/
  // Where the processes' output logs go, <output_dir>/<container>/<process>/: the worker keeps
  // `dir` on a tmpfs, output on disk.
  std::string output_dir;
  runtime::RuntimeOptions runtime;
  std::string shim_path;  // tarmac-shim
  // Unprivileged containers map root to this range: the volume store's range.
  baggageclaim::IdRange ids;
  uint64_t output_retain_bytes = 16 << 20;
};

struct StartedProcess {
  std::string id;
  pid_t pid = 0;
  std::string dir;         // its shim's directory
  std::string output_dir;  // where its output log is
};

// The worker's containers: created on copy-on-write volumes of the embedded volume store,
// run by the bpm runtime, with every process kept by a shim. State lives on a tmpfs (output on
// disk), so a worker restarted (kill -9 included) finds its containers and their processes again;
// one that cannot be recovered is destroyed whole. Safe for concurrent use.
class ContainerManager {
 public:
  // In the containers' and the output directories: what is being removed.
  static constexpr const char* kTrash = ".trash";
  // In the output directory: where a container's output directory is made (DirSpreader).
  static constexpr const char* kSpread = ".spread";

  static Result<std::unique_ptr<ContainerManager>> open(ManagerOptions options,
                                                        baggageclaim::Store& volumes);

  Result<worker::v1::Container> create(const worker::v1::ContainerSpec& spec);
  Result<worker::v1::Container> get(const std::string& handle) const;
  // Containers whose properties include every one of `filter`.
  std::vector<worker::v1::Container> list(const std::map<std::string, std::string>& filter) const;
  Result<worker::v1::Container> set_property(const std::string& handle, const std::string& name,
                                             const std::string& value);
  // Kills every process, waits for their shims to record the end, removes the container, its
  // state and its root filesystem volume.
  Status destroy(const std::string& handle);
  std::vector<std::string> handles() const;
  // Containers with a process that has not ended.
  int active_tasks() const;
  // Draining: create is refused (UNAVAILABLE-like EAGAIN, with `reason`); the rest works.
  void refuse_new_containers(std::string reason);
  // Until what destroys gave up is removed.
  void finish_removals() { remover_.drain(); }

  Result<StartedProcess> run(const std::string& handle, const worker::v1::ProcessSpec& spec);
  // The directory of a process (for its shim), checked to exist.
  Result<std::string> process_dir(const std::string& handle, const std::string& process_id) const;
  // The directory of a process's output log.
  std::string output_dir(const std::string& handle, const std::string& process_id) const;
  Result<worker::v1::ProcessInfo> process_info(const std::string& handle,
                                               const std::string& process_id) const;

 private:
  struct Entry {
    worker::v1::Container container;  // without processes (read from disk when asked)
    bool ready = false;               // false while being created or destroyed
  };

  ContainerManager(ManagerOptions options, baggageclaim::Store& volumes,
                   runtime::RuntimePtr runtime)
      : options_(std::move(options)),
        volumes_(volumes),
        runtime_(std::move(runtime)),
        spawner_(std::make_unique<ShimSpawner>(
            options_.shim_path, std::vector<std::string>{options_.runtime.cgroup_root,
                                                         options_.runtime.cgroup_parent})),
        remover_(remove_dir) {}

  static void remove_dir(const std::string& dir);

  std::string dir_of(const std::string& handle) const { return options_.dir + "/" + handle; }
  std::string output_dir_of(const std::string& handle) const {
    return options_.output_dir + "/" + handle;
  }
  // Where a destroyed container's directories go to be removed in the background: in the same
  // filesystem, to go there with a rename.
  static std::string trash_of(const std::string& dir) { return dir + "/" + kTrash; }
  Status recover();
  // Moves <tree>/<handle> into the tree's trash (see trash_of), or removes it at once if that
  // fails; nothing there is fine.
  void move_aside(const std::string& tree, const std::string& handle);
  // What nothing recovered owns: output directories and root filesystem volumes of containers
  // whose records are gone (a reboot clears the tmpfs the records are on).
  void remove_orphans();
  // Removes whatever exists of a container: its runtime container, processes, volume, dir.
  Status remove_remains(const std::string& handle, const std::string& rootfs_volume);
  Result<runtime::ContainerSpec> runtime_spec(const worker::v1::ContainerSpec& spec,
                                              const std::string& handle,
                                              const std::string& rootfs) const;
  Status save(const worker::v1::Container& container) const;
  worker::v1::Container with_processes(const worker::v1::Container& c) const;

  ManagerOptions options_;
  baggageclaim::Store& volumes_;
  runtime::RuntimePtr runtime_;
  std::unique_ptr<ShimSpawner> spawner_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::string refusing_;  // why create is refused, when draining
  std::unique_ptr<DirSpreader> output_spreader_;
  BackgroundRemover remover_;  // last: it goes first, removing what it still holds
};

}  // namespace tarmac::containers
