// execute: a one-off build of a task config, watched to its end.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

#include "atc/config/task_config.h"
#include "fly/context.h"

namespace tarmac::fly {

int execute(const Global& g, const ExecuteOptions& o) {
  auto config = atc::config::load_task_config(o.config);
  if (!config) return fail(config.error());
  if (!o.inputs.empty())
    return fail("-i " + o.inputs[0] + ": uploading inputs is not supported yet");
  for (const auto& in : config->inputs)
    if (!in.optional)
      return fail("missing required input `" + in.name +
                  "` (uploading inputs with -i is not supported yet)");
  if (!o.outputs.empty())
    return fail("-o " + o.outputs[0] + ": downloading outputs is not supported yet");
  auto client = client_for(g);
  if (!client) return fail(client.error());

  nlohmann::json task = {
      {"name", "one-off"}, {"config", atc::config::to_json(*config)}, {"privileged", o.privileged}};
  if (!o.tags.empty()) task["tags"] = o.tags;
  nlohmann::json plan = {{"id", "one-off"}, {"task", task}};
  // Ctrl-C aborts the build (and the watch then ends with its status), as fly does.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR2);  // "the watch is over" from this thread
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto r = client->request("POST", "/api/v1/teams/" + client->target().team + "/builds",
                           plan.dump(), {{"Content-Type", "application/json"}});
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
  return code;
}

}  // namespace tarmac::fly
