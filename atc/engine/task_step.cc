#include "atc/engine/task_step.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "atc/config/task_config.h"
#include "atc/engine/placement.h"
#include "atc/engine/worker_client.h"
#include "common/uuid.h"

namespace tarmac::atc::engine {
namespace {

// A worker for the step by the placement strategies; waits (and says so once) while there
// is none, until the build is aborted (ECANCELED).
Result<db::WorkerRecord> place(StepContext& ctx, const std::string& origin,
                               const config::TaskConfig& config,
                               const std::vector<std::string>& tags,
                               const std::map<std::string, int>& inputs_on) {
  bool said = false;
  while (!ctx.stopping) {
    auto candidates = ctx.workers.available(ctx.build.team, config.platform, tags);
    if (!candidates) return std::move(candidates).error();
    auto chosen = narrow(ctx.pool, std::move(*candidates), ctx.options.placement, inputs_on);
    if (!chosen) return std::move(chosen).error();
    if (!chosen->empty()) return chosen->front();
    if (!said) {
      (void)ctx.events.waiting_for_worker(origin);
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto b = db::BuildStore(ctx.pool).find(ctx.build.id);
    if (b && *b && (*b)->aborted) return Error("aborted while waiting for a worker", ECANCELED);
  }
  return Error("the web node is stopping", EAGAIN);
}

Status record_container(db::Pool& pool, const std::string& handle, const std::string& worker,
                        const db::BuildRecord& build, const std::string& origin,
                        const nlohmann::json& meta) {
  auto r = pool.query(
      "INSERT INTO containers (handle, worker_name, state, team_id, build_id, plan_id, meta)"
      " SELECT $1, $2, 'creating', t.id, $3, $4, $5::jsonb FROM teams t WHERE t.name = $6",
      handle, worker, build.id, origin, meta.dump(), build.team);
  if (!r) return std::move(r).error().wrap("record container");
  return ok_status();
}

Status record_volume(db::Pool& pool, const std::string& handle, const std::string& worker,
                     const std::string& type, const std::string& container, const std::string& team,
                     const std::string& path, const std::string& parent = "") {
  auto r = pool.query(
      "INSERT INTO volumes (handle, worker_name, state, type, team_id, container_id, path,"
      " parent_id) SELECT $1, $2, 'creating', $3, (SELECT id FROM teams WHERE name = $4),"
      " (SELECT id FROM containers WHERE handle = $5), $6,"
      " (SELECT id FROM volumes WHERE handle = $7)",
      handle, worker, type, team, container, path, parent);
  if (!r) return std::move(r).error().wrap("record volume");
  return ok_status();
}

Status mark_created(db::Pool& pool, const char* table, const std::string& handle) {
  auto r = pool.query(std::string("UPDATE ") + table + " SET state = 'created' WHERE handle = $1",
                      handle);
  if (!r) return std::move(r).error();
  return ok_status();
}

// Copies an artifact held by another worker into `handle` on this one, through the web node
// (zstd: cheap to pack, and the web node only relays it).
Status relay(StepContext& ctx, const ArtifactRef& from, WorkerClient& to,
             const std::string& handle) {
  auto source = ctx.clients.get(from.worker_address);
  if (!source) return std::move(source).error();
  auto writer = to.volumes().open_stream_in(handle, "", baggageclaim::tar::Encoding::kZstd);
  if (!writer) return std::move(writer).error();
  Status out =
      (*source)->volumes().stream_out(from.volume_handle, "", baggageclaim::tar::Encoding::kZstd,
                                      [&](std::string_view data) -> Status {
                                        if (!(*writer)->write(data))
                                          return Error("the receiving worker stopped reading");
                                        return ok_status();
                                      });
  if (!out.ok()) {
    (*writer)->abort();
    Status why = (*writer)->finish();
    return why.ok() ? std::move(out).error().wrap("from worker " + from.worker_name)
                    : std::move(why).error();
  }
  return (*writer)->finish();
}

std::string mapped(const nlohmann::json& task, const char* key, const std::string& name) {
  auto it = task.find(key);
  if (it == task.end() || !it->is_object()) return name;
  auto m = it->find(name);
  return m != it->end() && m->is_string() ? m->get<std::string>() : name;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

constexpr const char* kProcessId = "task";

using Outputs = std::vector<std::pair<std::string, std::string>>;  // artifact name, volume
using Start =
    std::function<Result<int>(const WorkerClient::OutputFn&, const WorkerClient::Controls&)>;

// Follows the task's process to its end (started or attached by `start`), its output as
// log events that carry the offset to attach from; keeps the outputs as artifacts.
std::string follow(StepContext& ctx, const std::string& origin, const db::WorkerRecord& worker,
                   WorkerClient& client, const std::string& handle, const Outputs& outputs,
                   const Start& start) {
  bool was_aborted = false;
  WorkerClient::Controls controls;
  controls.aborted = [&] {
    auto b = db::BuildStore(ctx.pool).find(ctx.build.id);
    was_aborted = was_aborted || (b && *b && (*b)->aborted);
    return was_aborted;
  };
  // Stopping lets the process run on: the next engine attaches to it.
  controls.detach = [&] { return ctx.stopping.load(); };
  controls.on_dropped = [&](uint64_t n) {
    (void)ctx.events.log(
        origin, true,
        "(" + std::to_string(n) + " bytes of output were no longer kept by the worker)\n");
  };
  auto exit = start(
      [&](bool is_stderr, const std::string& data, uint64_t next) {
        // A line is never dropped: while the database is away the output waits here (the
        // worker keeps what the process writes meanwhile). A stopping engine gives up, and
        // the next one attaches from the last offset stored, this line included.
        auto delay = std::chrono::milliseconds(100);
        for (bool warned = false; !ctx.stopping;) {
          auto s = ctx.events.output(origin, is_stderr, data, handle, next);
          if (s.ok()) break;
          if (!warned)
            spdlog::warn("engine: build {}: {} (retrying)", ctx.build.id, s.error().what());
          warned = true;
          std::this_thread::sleep_for(delay);
          delay = std::min(delay * 2, std::chrono::milliseconds(2000));
        }
      },
      controls);
  if (!exit && exit.error().errnum() == ECANCELED) return "detached";
  if (was_aborted) return "aborted";
  if (!exit)
    return errored(ctx, origin,
                   "worker " + worker.info.name() + " lost: " + exit.error().message());
  // Outputs are kept whatever the exit status: a failed task's output helps find out why.
  for (const auto& [artifact, volume] : outputs)
    ctx.artifacts[artifact] = {worker.info.name(), worker.info.address(), volume};
  (void)ctx.events.finish_task(origin, *exit);
  return *exit == 0 ? "succeeded" : "failed";
}

struct StepContainer {
  std::string handle, worker, state, workdir;
  int64_t offset = 0;
};

// The container an earlier run of this build made for the step, if any.
Result<std::optional<StepContainer>> step_container(StepContext& ctx, const std::string& origin) {
  auto r = ctx.pool.query(
      "SELECT handle, worker_name, state, coalesce(meta->>'working_directory', '') AS workdir,"
      " process_offset FROM containers WHERE build_id = $1 AND plan_id = $2"
      " AND state IN ('creating', 'created') ORDER BY id DESC LIMIT 1",
      ctx.build.id, origin);
  if (!r) return std::move(r).error().wrap("find the step's container");
  if (r->empty()) return std::optional<StepContainer>();
  auto row = (*r)[0];
  return std::optional<StepContainer>(StepContainer{row.str("handle"), row.str("worker_name"),
                                                    row.str("state"), row.str("workdir"),
                                                    row.i64("process_offset")});
}

// Picks the step up where a stopped engine left it: the exit status if the task had ended
// (its finish-task event is stored), else the process followed from the stored offset.
std::string resume(StepContext& ctx, const std::string& origin, const config::TaskConfig& config,
                   const nlohmann::json& task, const StepContainer& c) {
  auto worker = ctx.workers.find(c.worker);
  if (!worker) return errored(ctx, origin, worker.error().message());
  if (!*worker)
    return errored(ctx, origin, "worker " + c.worker + " lost while the web node was away");
  auto client = ctx.clients.get((*worker)->info.address());
  if (!client) return errored(ctx, origin, client.error().message());
  Outputs outputs;
  for (const auto& out : config.outputs) {
    auto v = ctx.pool.query(
        "SELECT v.handle FROM volumes v JOIN containers c ON c.id = v.container_id"
        " WHERE c.handle = $1 AND v.path = $2",
        c.handle, c.workdir + "/" + out.path);
    if (!v || v->empty())
      return errored(ctx, origin, "output " + out.name + ": its volume is gone");
    outputs.emplace_back(mapped(task, "output_mapping", out.name), (*v)[0].str("handle"));
  }
  auto finished = ctx.pool.query(
      "SELECT payload FROM build_events WHERE build_id = $1 AND type = 'finish-task'"
      " AND payload::jsonb->'origin'->>'id' = $2",
      ctx.build.id, origin);
  if (finished && !finished->empty()) {
    int exit = nlohmann::json::parse((*finished)[0].str("payload")).value("exit_status", -1);
    for (const auto& [artifact, volume] : outputs)
      ctx.artifacts[artifact] = {c.worker, (*worker)->info.address(), volume};
    return exit == 0 ? "succeeded" : "failed";
  }
  spdlog::info("engine: build {}: attaching to {} on {} from offset {}", ctx.build.id, c.handle,
               c.worker, c.offset);
  return follow(ctx, origin, **worker, **client, c.handle, outputs,
                [&](const WorkerClient::OutputFn& out, const WorkerClient::Controls& controls) {
                  return (*client)->attach(c.handle, kProcessId, static_cast<uint64_t>(c.offset),
                                           out, controls);
                });
}

}  // namespace

std::string errored(StepContext& ctx, const std::string& origin, const std::string& message) {
  (void)ctx.events.error(origin, message);
  return "errored";
}

std::string run_task_step(StepContext& ctx, const nlohmann::json& step) {
  std::string origin = step.value("id", "task");
  const nlohmann::json& task = step["task"];
  std::string name = task.value("name", "task");
  // The config travels as JSON, which is YAML: one parser, one set of checks and messages.
  auto config = config::parse_task_config("task " + name,
                                          task.contains("config") ? task["config"].dump() : "");
  if (!config) return errored(ctx, origin, config.error().message());
  const std::string raw = "raw://";
  if (config->rootfs_uri.rfind(raw, 0) != 0)
    return errored(ctx, origin,
                   "image: only rootfs_uri: raw:///PATH is supported yet (registry images come "
                   "with resource types)");
  std::string image_path = config->rootfs_uri.substr(raw.size());
  std::vector<std::string> tags;
  if (task.contains("tags") && task["tags"].is_array())
    for (const auto& t : task["tags"]) tags.push_back(t.get<std::string>());
  bool privileged = task.value("privileged", false);

  // Inputs: artifacts of earlier steps, by name (after input_mapping). A missing optional
  // input is simply not there, as in Concourse.
  struct Input {
    std::string path;
    const ArtifactRef* artifact;
  };
  std::vector<Input> inputs;
  std::vector<std::string> missing;
  std::map<std::string, int> inputs_on;
  for (const auto& in : config->inputs) {
    auto it = ctx.artifacts.find(mapped(task, "input_mapping", in.name));
    if (it == ctx.artifacts.end()) {
      if (!in.optional) missing.push_back(in.name);
      continue;
    }
    inputs.push_back({in.path, &it->second});
    ++inputs_on[it->second.worker_name];
  }
  if (!missing.empty()) return errored(ctx, origin, "missing inputs: " + join(missing));

  // A web node that stopped may have left this step's container behind: follow it on.
  auto existing = step_container(ctx, origin);
  if (!existing) return errored(ctx, origin, existing.error().message());
  if (*existing) {
    if ((*existing)->state == "created") return resume(ctx, origin, *config, task, **existing);
    // Stopped while it was being made: the GC takes it; the step starts over.
    (void)ctx.pool.query("UPDATE containers SET state = 'failed' WHERE handle = $1",
                         (*existing)->handle);
  }

  auto worker = place(ctx, origin, *config, tags, inputs_on);
  if (!worker && worker.error().errnum() == ECANCELED) return "aborted";
  if (!worker && ctx.stopping) return "detached";
  if (!worker) return errored(ctx, origin, worker.error().message());
  const std::string& worker_name = worker->info.name();
  (void)ctx.events.selected_worker(origin, worker_name);
  auto client = ctx.clients.get(worker->info.address());
  if (!client) return errored(ctx, origin, client.error().message());
  auto on_worker = [&](const Error& e) {
    return errored(ctx, origin, "worker " + worker_name + ": " + e.message());
  };

  // The image: one imported volume per host path, kept for later builds.
  std::map<std::string, std::string> image_props = {{"tarmac.image", config->rootfs_uri}};
  auto image = (*client)->find_volume(image_props);
  if (!image) return on_worker(image.error());
  std::string image_handle;
  if (*image) {
    image_handle = **image;
  } else {
    image_handle = new_uuid();
    if (auto s = record_volume(ctx.pool, image_handle, worker_name, "resource", "", ctx.build.team,
                               image_path);
        !s.ok())
      return errored(ctx, origin, s.error().message());
    if (auto s = (*client)->import_volume(image_handle, image_path, image_props); !s.ok())
      return on_worker(std::move(s).error().wrap("image"));
    (void)mark_created(ctx.pool, "volumes", image_handle);
  }

  // The container and its volumes, recorded before they are made (the GC destroys what no
  // row names).
  std::string handle = new_uuid();
  std::string workdir = "/tmp/build/" + handle.substr(0, 8);
  nlohmann::json meta = {{"type", "task"},
                         {"step_name", name},
                         {"attempt", ""},
                         {"working_directory", workdir},
                         {"user", config->run.user}};
  if (auto s = record_container(ctx.pool, handle, worker_name, ctx.build, origin, meta); !s.ok())
    return errored(ctx, origin, s.error().message());
  std::vector<std::pair<std::string, std::string>> mounts;  // path, volume
  auto new_volume = [&](const std::string& path, const std::string& parent) -> Result<std::string> {
    std::string v = new_uuid();
    if (auto s = record_volume(ctx.pool, v, worker_name, "container", handle, ctx.build.team, path,
                               parent);
        !s.ok())
      return std::move(s).error();
    mounts.emplace_back(path, v);
    return v;
  };
  auto scratch = new_volume(workdir, "");
  if (!scratch) return errored(ctx, origin, scratch.error().message());
  if (auto s = (*client)->empty_volume(*scratch, privileged,
                                       {{"tarmac.build", std::to_string(ctx.build.id)}});
      !s.ok())
    return on_worker(s.error());
  (void)mark_created(ctx.pool, "volumes", *scratch);
  for (const auto& in : inputs) {
    std::string path = workdir + "/" + in.path;
    bool local = in.artifact->worker_name == worker_name;
    auto v = new_volume(path, local ? in.artifact->volume_handle : "");
    if (!v) return errored(ctx, origin, v.error().message());
    Status made = local ? (*client)->cow_volume(*v, in.artifact->volume_handle, privileged)
                        : (*client)->empty_volume(*v, privileged, {});
    if (made.ok() && !local) made = relay(ctx, *in.artifact, **client, *v);
    if (!made.ok()) return on_worker(std::move(made).error().wrap("input " + in.path));
    (void)mark_created(ctx.pool, "volumes", *v);
  }
  // Outputs and caches start empty; recorded before they are made, as every volume here.
  auto empty_volume = [&](const std::string& path) -> Result<std::string> {
    auto v = new_volume(path, "");
    if (!v) return std::move(v).error();
    if (auto s = (*client)->empty_volume(*v, privileged, {}); !s.ok())
      return std::move(s).error().wrap("worker " + worker_name);
    (void)mark_created(ctx.pool, "volumes", *v);
    return v;
  };
  Outputs outputs;
  for (const auto& out : config->outputs) {
    auto v = empty_volume(workdir + "/" + out.path);
    if (!v) return errored(ctx, origin, v.error().message());
    outputs.emplace_back(mapped(task, "output_mapping", out.name), *v);
  }
  for (const auto& cache : config->caches)
    if (auto v = empty_volume(workdir + "/" + cache); !v)
      return errored(ctx, origin, v.error().message());

  worker::v1::ContainerSpec spec;
  spec.set_handle(handle);
  spec.set_image_volume(image_handle);
  spec.set_privileged(privileged);
  spec.set_dir(workdir);
  spec.set_user(config->run.user);
  // Parents before what is mounted inside them.
  std::sort(mounts.begin(), mounts.end());
  for (const auto& [path, volume] : mounts) {
    auto* mount = spec.add_mounts();
    mount->set_volume(volume);
    mount->set_path(path);
  }
  for (const auto& [k, v] : config->params) spec.add_env(k + "=" + v);
  if (config->container_limits.memory)
    spec.mutable_limits()->set_memory_bytes(static_cast<int64_t>(*config->container_limits.memory));
  if (config->container_limits.cpu)
    spec.mutable_limits()->set_cpu_shares(*config->container_limits.cpu);
  (*spec.mutable_properties())["tarmac.build"] = std::to_string(ctx.build.id);
  if (auto s = (*client)->create_container(spec); !s.ok()) return on_worker(s.error());
  (void)mark_created(ctx.pool, "containers", handle);

  (void)ctx.events.initialize_task(origin, config::to_json(*config));
  (void)ctx.events.start_task(origin);
  worker::v1::ProcessSpec process;
  process.set_id(kProcessId);
  process.set_path(config->run.path);
  for (const auto& a : config->run.args) process.add_args(a);
  if (!config->run.dir.empty())
    process.set_dir(config->run.dir[0] == '/' ? config->run.dir : workdir + "/" + config->run.dir);
  return follow(ctx, origin, *worker, **client, handle, outputs,
                [&](const WorkerClient::OutputFn& out, const WorkerClient::Controls& controls) {
                  return (*client)->run(handle, process, out, controls);
                });
}

}  // namespace tarmac::atc::engine
