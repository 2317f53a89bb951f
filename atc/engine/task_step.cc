#include "atc/engine/task_step.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "atc/config/task_config.h"
#include "atc/engine/worker_client.h"
#include "common/uuid.h"

namespace tarmac::atc::engine {
namespace {

std::string errored(StepContext& ctx, const std::string& origin, const std::string& message) {
  (void)ctx.events.error(origin, message);
  return "errored";
}

// The worker with the fewest active containers among those the step may use; waits (and
// says so once) while there is none, until the build is aborted (ECANCELED).
Result<db::WorkerRecord> place(StepContext& ctx, const std::string& origin,
                               const config::TaskConfig& config,
                               const std::vector<std::string>& tags) {
  bool said = false;
  while (!ctx.stopping) {
    auto candidates = ctx.workers.available(ctx.build.team, config.platform, tags);
    if (!candidates) return std::move(candidates).error();
    if (!candidates->empty())
      return *std::min_element(candidates->begin(), candidates->end(), [](auto& a, auto& b) {
        return a.info.active_containers() < b.info.active_containers();
      });
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
                     const std::string& path) {
  auto r = pool.query(
      "INSERT INTO volumes (handle, worker_name, state, type, team_id, container_id, path)"
      " SELECT $1, $2, 'creating', $3, (SELECT id FROM teams WHERE name = $4),"
      " (SELECT id FROM containers WHERE handle = $5), $6",
      handle, worker, type, team, container, path);
  if (!r) return std::move(r).error().wrap("record volume");
  return ok_status();
}

Status mark_created(db::Pool& pool, const char* table, const std::string& handle) {
  auto r = pool.query(std::string("UPDATE ") + table + " SET state = 'created' WHERE handle = $1",
                      handle);
  if (!r) return std::move(r).error();
  return ok_status();
}

}  // namespace

std::string run_task_step(StepContext& ctx, const nlohmann::json& step) {
  std::string origin = step.value("id", "task");
  const nlohmann::json& task = step["task"];
  std::string name = task.value("name", "task");
  // The config travels as JSON, which is YAML: one parser, one set of checks and messages.
  auto config = config::parse_task_config("task " + name,
                                          task.contains("config") ? task["config"].dump() : "");
  if (!config) return errored(ctx, origin, config.error().message());
  for (const auto& in : config->inputs)
    if (!in.optional)
      return errored(ctx, origin,
                     "input " + in.name +
                         ": no artifact to give it (inputs are not "
                         "wired to tasks yet)");
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

  auto worker = place(ctx, origin, *config, tags);
  if (!worker && worker.error().errnum() == ECANCELED) return "aborted";
  if (!worker) return errored(ctx, origin, worker.error().message());
  const std::string& worker_name = worker->info.name();
  (void)ctx.events.selected_worker(origin, worker_name);
  auto client = ctx.clients.get(worker->info.address());
  if (!client) return errored(ctx, origin, client.error().message());

  // The image: one imported volume per host path, kept for later builds.
  std::map<std::string, std::string> image_props = {{"tarmac.image", config->rootfs_uri}};
  auto image = (*client)->find_volume(image_props);
  if (!image) return errored(ctx, origin, "worker " + worker_name + ": " + image.error().message());
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
      return errored(ctx, origin, "worker " + worker_name + ": image: " + s.error().message());
    (void)mark_created(ctx.pool, "volumes", image_handle);
  }

  // The container and its working dir, recorded before they are made (the GC destroys what
  // no row names).
  std::string handle = new_uuid();
  std::string workdir = "/tmp/build/" + handle.substr(0, 8);
  nlohmann::json meta = {{"type", "task"},
                         {"step_name", name},
                         {"attempt", ""},
                         {"working_directory", workdir},
                         {"user", config->run.user}};
  if (auto s = record_container(ctx.pool, handle, worker_name, ctx.build, origin, meta); !s.ok())
    return errored(ctx, origin, s.error().message());
  std::string scratch = new_uuid();
  if (auto s = record_volume(ctx.pool, scratch, worker_name, "container", handle, ctx.build.team,
                             workdir);
      !s.ok())
    return errored(ctx, origin, s.error().message());
  if (auto s = (*client)->empty_volume(scratch, privileged,
                                       {{"tarmac.build", std::to_string(ctx.build.id)}});
      !s.ok())
    return errored(ctx, origin, "worker " + worker_name + ": " + s.error().message());
  (void)mark_created(ctx.pool, "volumes", scratch);

  worker::v1::ContainerSpec spec;
  spec.set_handle(handle);
  spec.set_image_volume(image_handle);
  spec.set_privileged(privileged);
  spec.set_dir(workdir);
  spec.set_user(config->run.user);
  auto* mount = spec.add_mounts();
  mount->set_volume(scratch);
  mount->set_path(workdir);
  for (const auto& [k, v] : config->params) spec.add_env(k + "=" + v);
  if (config->container_limits.memory)
    spec.mutable_limits()->set_memory_bytes(static_cast<int64_t>(*config->container_limits.memory));
  if (config->container_limits.cpu)
    spec.mutable_limits()->set_cpu_shares(*config->container_limits.cpu);
  (*spec.mutable_properties())["tarmac.build"] = std::to_string(ctx.build.id);
  if (auto s = (*client)->create_container(spec); !s.ok())
    return errored(ctx, origin, "worker " + worker_name + ": " + s.error().message());
  (void)mark_created(ctx.pool, "containers", handle);

  (void)ctx.events.initialize_task(origin, config::to_json(*config));
  (void)ctx.events.start_task(origin);
  worker::v1::ProcessSpec process;
  process.set_id("task");
  process.set_path(config->run.path);
  for (const auto& a : config->run.args) process.add_args(a);
  if (!config->run.dir.empty())
    process.set_dir(config->run.dir[0] == '/' ? config->run.dir : workdir + "/" + config->run.dir);
  bool was_aborted = false;
  auto aborted = [&] {
    auto b = db::BuildStore(ctx.pool).find(ctx.build.id);
    was_aborted = was_aborted || (b && *b && (*b)->aborted) || ctx.stopping;
    return was_aborted;
  };
  auto exit = (*client)->run(
      handle, process,
      [&](bool is_stderr, const std::string& data) {
        if (auto s = ctx.events.log(origin, is_stderr, data); !s.ok())
          spdlog::warn("engine: build {}: {}", ctx.build.id, s.error().what());
      },
      aborted);
  if (ctx.stopping)
    return errored(ctx, origin,
                   "the web node stopped while the task ran (builds do not yet survive a web "
                   "restart)");
  if (was_aborted) return "aborted";
  if (!exit)
    return errored(ctx, origin, "worker " + worker_name + " lost: " + exit.error().message());
  (void)ctx.events.finish_task(origin, *exit);
  return *exit == 0 ? "succeeded" : "failed";
}

}  // namespace tarmac::atc::engine
