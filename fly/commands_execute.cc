// execute: a one-off build of a task config with local inputs, watched to its end, its
// outputs downloaded.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "atc/config/task_config.h"
#include "fly/artifacts.h"
#include "fly/context.h"

namespace tarmac::fly {
namespace {

// "NAME=VALUE" pairs of -i/-o/-v, in order; `value` names the right side in errors.
Result<std::vector<std::pair<std::string, std::string>>> pairs(
    const std::vector<std::string>& flags, const char* flag, const char* value) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : flags) {
    size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == f.size())
      return Error(std::string(flag) + " " + f + ": expected NAME=" + value, EINVAL);
    out.emplace_back(f.substr(0, eq), f.substr(eq + 1));
  }
  return out;
}

struct Plan {
  int next_id = 0;
  std::string id() { return std::to_string(++next_id); }
};

}  // namespace

int execute(const Global& g, const ExecuteOptions& o) {
  auto vars = pairs(o.vars, "-v", "VALUE");
  if (!vars) return fail(vars.error());
  atc::config::Vars values(vars->begin(), vars->end());
  auto config = atc::config::load_task_config(o.config, &values);
  if (!config) return fail(config.error());
  auto inputs = pairs(o.inputs, "-i", "PATH");
  if (!inputs) return fail(inputs.error());
  auto outputs = pairs(o.outputs, "-o", "PATH");
  if (!outputs) return fail(outputs.error());

  std::map<std::string, std::string> input_paths;
  for (const auto& [name, path] : *inputs) {
    bool known = false;
    for (const auto& in : config->inputs) known = known || in.name == name;
    if (!known) return fail("unknown input `" + name + "`");
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return fail(sys_error(path));
    if (!S_ISDIR(st.st_mode)) return fail(path + " not a folder");
    input_paths[name] = path;
  }
  // As fly: an input named like the current directory is the current directory.
  std::string cwd_name = std::filesystem::current_path().filename().string();
  for (const auto& in : config->inputs) {
    if (input_paths.count(in.name)) continue;
    if (in.name == cwd_name) {
      input_paths[in.name] = std::filesystem::current_path().string();
    } else if (!in.optional) {
      return fail("missing required input `" + in.name + "`");
    }
  }
  for (const auto& [name, path] : *outputs) {
    bool known = false;
    for (const auto& out : config->outputs) known = known || out.name == name;
    if (!known) return fail("unknown output '" + name + "'");
  }
  auto client = client_for(g);
  if (!client) return fail(client.error());

  Plan plan;
  nlohmann::json input_steps = nlohmann::json::array();
  for (const auto& [name, path] : input_paths) {
    std::fprintf(stderr, "uploading %s\n", name.c_str());
    auto id = upload_input(*client, {path, o.include_ignored, config->platform, o.tags});
    if (!id) return fail(id.error().wrap("input " + name));
    input_steps.push_back(
        {{"id", plan.id()}, {"artifact_input", {{"artifact_id", *id}, {"name", name}}}});
  }
  nlohmann::json task = {
      {"name", "one-off"}, {"config", atc::config::to_json(*config)}, {"privileged", o.privileged}};
  if (!o.tags.empty()) task["tags"] = o.tags;
  nlohmann::json steps = {{{"id", plan.id()}, {"in_parallel", {{"steps", input_steps}}}},
                          {{"id", plan.id()}, {"task", task}}};
  nlohmann::json body = {{"id", plan.id()}, {"do", steps}};
  if (!outputs->empty()) {
    nlohmann::json output_steps = nlohmann::json::array();
    for (const auto& [name, path] : *outputs)
      output_steps.push_back({{"id", plan.id()}, {"artifact_output", {{"name", name}}}});
    body = {{"id", plan.id()},
            {"ensure",
             {{"step", body},
              {"ensure", {{"id", plan.id()}, {"in_parallel", {{"steps", output_steps}}}}}}}};
  }

  // Ctrl-C aborts the build (and the watch then ends with its status), as fly does.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);  // "the watch is over" from this thread
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto r = client->request("POST", "/api/v1/teams/" + client->target().team + "/builds",
                           body.dump(), {{"Content-Type", "application/json"}});
  if (!r) return fail(r.error());
  if (r->status != 201) return fail(http_error("create build", *r));
  auto build = nlohmann::json::parse(r->body, nullptr, false);
  std::string id = std::to_string(build.value("id", int64_t{0}));
  std::printf("executing build %s at %s/builds/%s\n", id.c_str(), client->target().api.c_str(),
              id.c_str());
  std::fflush(stdout);
  std::thread interrupter([&, target = client->target()] {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0 || sig == SIGUSR2) return;
    std::fprintf(stderr, "\naborting build %s\n", id.c_str());
    Client aborter(target);
    (void)aborter.put("/api/v1/builds/" + id + "/abort");
  });
  int code = watch(g, id, false);
  // Wake the interrupter if no signal came.
  pthread_kill(interrupter.native_handle(), SIGUSR2);
  interrupter.join();
  if (outputs->empty()) return code;

  auto listed = client->get_json("/api/v1/builds/" + id + "/artifacts");
  if (!listed) return fail(listed.error().wrap("downloading failed"));
  std::map<std::string, int64_t> artifacts;
  for (const auto& a : *listed)
    if (a.is_object()) artifacts[a.value("name", "")] = a.value("id", int64_t{0});
  for (const auto& [name, path] : *outputs) {
    auto it = artifacts.find(name);
    if (it == artifacts.end()) {
      std::fprintf(stderr, "output %s: the build kept no such artifact\n", name.c_str());
      code = code ? code : 1;
      continue;
    }
    std::fprintf(stderr, "downloading %s\n", name.c_str());
    if (auto s = download_output(*client, it->second, path); !s.ok())
      return fail(std::move(s).error().wrap("downloading failed: output " + name));
  }
  return code;
}

}  // namespace tarmac::fly
