#include "atc/engine/engine.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "atc/engine/events.h"
#include "atc/engine/plan.h"

namespace tarmac::atc::engine {

Engine::Engine(db::Pool& pool, db::WorkerStore& workers, EngineOptions options)
    : pool_(pool),
      workers_(workers),
      builds_(pool),
      options_(std::move(options)),
      clients_(options_.worker_tls),
      locks_(pool.conninfo()) {}

Engine::~Engine() { stop(); }

void Engine::start() {
  loop_ = std::thread([this] { loop(); });
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  for (auto& r : running_) r.thread.join();
  running_.clear();
}

void Engine::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Engine::spawn(int64_t id) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::lock_guard lock(mu_);
  // Builds that ended give their threads back.
  running_.remove_if([](Running& r) {
    if (!*r.done) return false;
    r.thread.join();
    return true;
  });
  running_.push_back({std::thread([this, id, done] {
                        run_build(id);
                        locks_.release(id);
                        *done = true;
                      }),
                      done});
}

void Engine::resume_orphans() {
  auto started = pool_.exec("SELECT id FROM builds WHERE status = 'started' ORDER BY id");
  if (!started) {
    spdlog::warn("engine: {}", started.error().what());
    return;
  }
  for (int i = 0; i < started->size(); ++i) {
    int64_t id = (*started)[i].i64("id");
    if (locks_.holds(id)) continue;  // running here
    auto held = locks_.try_hold(id);
    if (!held) {
      spdlog::warn("engine: {}", held.error().what());
      return;
    }
    if (!*held) continue;  // another engine runs it
    // Ended while we looked: nothing to resume.
    auto b = builds_.find(id);
    if (!b || !*b || (*b)->finished()) {
      locks_.release(id);
      continue;
    }
    spdlog::info("engine: resuming build {}, left started by an engine that stopped", id);
    spawn(id);
  }
}

void Engine::loop() {
  bool took = false;
  // Builds another engine left started are looked for at once, then every poll interval
  // (not on every wake: tests and operators may hold builds in 'started' by hand).
  auto next_scan = std::chrono::steady_clock::now();
  for (;;) {
    {
      // After a claim, look again at once: more builds may be waiting.
      std::unique_lock lock(mu_);
      if (!took && std::chrono::steady_clock::now() < next_scan)
        cv_.wait_for(lock, options_.poll, [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    if (std::chrono::steady_clock::now() >= next_scan) {
      resume_orphans();
      next_scan = std::chrono::steady_clock::now() + options_.poll;
    }
    took = false;
    // Claimed in one statement: a build another node took is skipped, not waited for.
    auto claimed = pool_.exec(
        "UPDATE builds SET status = 'started', start_time = now() WHERE id = ("
        " SELECT id FROM builds WHERE status = 'pending' AND NOT aborted ORDER BY id"
        " FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id");
    if (!claimed) {
      spdlog::warn("engine: {}", claimed.error().what());
      continue;
    }
    if (claimed->empty()) continue;
    took = true;
    int64_t id = (*claimed)[0].i64("id");
    auto held = locks_.try_hold(id);
    // Taken by an engine that saw it started before we locked it: it runs it.
    if (held && !*held) continue;
    if (!held) spdlog::warn("engine: build {}: {}", id, held.error().what());
    spawn(id);
  }
}

void Engine::run_build(int64_t id) {
  auto found = builds_.find(id);
  if (!found || !*found) return;
  const db::BuildRecord& build = **found;
  EventWriter events(builds_, id);
  auto plan = nlohmann::json::parse(build.plan.empty() ? "null" : build.plan, nullptr, false);
  StepContext ctx{pool_, workers_, events, build, options_, stopping_, clients_, {}};
  std::string status;
  try {
    status = run_plan(ctx, plan);
  } catch (const nlohmann::json::exception& e) {
    // A plan is user input: a field of the wrong type errors the build, not the web node.
    (void)events.error(plan.is_object() && plan.contains("id") ? plan["id"].dump() : "",
                       std::string("plan: a field has the wrong type: ") + e.what());
    status = "errored";
  }
  if (status == "detached") {
    spdlog::info("engine: build {} left running for the next engine", id);
    return;
  }
  spdlog::info("engine: build {} {}", id, status);
  (void)events.status(status);
  if (auto s = builds_.finish(id, status, options_.intercept_grace_s); !s.ok()) {
    spdlog::error("engine: build {}: {}", id, s.error().what());
    return;
  }
  // Its events stop changing now: store them packed (the GC pass does it for builds whose
  // engine did not get this far).
  if (auto s = builds_.compact_events(id); !s.ok())
    spdlog::warn("engine: build {}: {}", id, s.error().what());
}

}  // namespace tarmac::atc::engine
