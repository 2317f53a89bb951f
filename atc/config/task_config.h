#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tarmac::atc::config {

// A task's config as Concourse's (atc/task.go): what `fly execute -c task.yml` and a job's
// `task` step read.
struct ImageResource {
  std::string type;
  nlohmann::json source = nlohmann::json::object();
  nlohmann::json params, version;  // null when not given
};

struct TaskInput {
  std::string name, path;  // path defaults to the name
  bool optional = false;
};

struct TaskOutput {
  std::string name, path;
};

struct TaskRun {
  std::string path;
  std::vector<std::string> args;
  std::string dir, user;
};

struct ContainerLimits {
  std::optional<uint64_t> cpu;     // shares
  std::optional<uint64_t> memory;  // bytes
};

struct TaskConfig {
  std::string platform;
  std::optional<ImageResource> image_resource;
  std::string rootfs_uri;
  std::vector<TaskInput> inputs;
  std::vector<TaskOutput> outputs;
  std::vector<std::string> caches;  // paths
  // Environment for the task, in file order; non-string values as JSON text, null as "".
  std::vector<std::pair<std::string, std::string>> params;
  TaskRun run;
  ContainerLimits container_limits;
};

// Parses a task file. Errors name the file, line and key path ("task.yml:7: inputs[1].name:
// required but missing"); unknown keys are errors, as Concourse's strict parsing makes them.
// ((name)) → value, as `fly execute -v NAME=VALUE` sets them.
using Vars = std::map<std::string, std::string>;

// With `vars`, every ((name)) in a value is replaced first, and a name with no value is an
// error listing them ("undefined vars: a, b").
Result<TaskConfig> parse_task_config(const std::string& filename, const std::string& text,
                                     const Vars* vars = nullptr);
Result<TaskConfig> load_task_config(const std::string& path, const Vars* vars = nullptr);

// Concourse's JSON form of a task config (the `config` of a task plan).
nlohmann::json to_json(const TaskConfig& config);

// "1GB", "512m", "1048576": bytes, with binary units (K, M, G, T, optionally followed by B or
// iB, any case). Nullopt for anything else or an overflow.
std::optional<uint64_t> parse_bytes(const std::string& text);

}  // namespace tarmac::atc::config
