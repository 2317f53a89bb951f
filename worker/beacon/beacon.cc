#include "worker/beacon/beacon.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "common/grpc/status.h"

namespace tarmac::beacon {
namespace {

namespace v1 = registry::v1;
constexpr auto kCallDeadline = std::chrono::seconds(10);

std::unique_ptr<grpc::ClientContext> call_context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallDeadline);
  return ctx;
}

}  // namespace

Result<std::unique_ptr<Beacon>> Beacon::start(BeaconOptions options, Holdings& holdings) {
  if (options.worker.name().empty()) return Error("beacon: --name: expected the worker's name");
  if (!options.tls.enabled() && !tarmac::is_loopback_address(options.registry))
    return Error("beacon: --registry " + options.registry +
                 ": plaintext is for loopback only; give --tls-cert, --tls-key and --tls-ca");
  auto creds = tarmac::channel_credentials(options.tls);
  if (!creds) return std::move(creds).error().wrap("beacon");
  grpc::ChannelArguments args;
  // Reconnect attempts of the channel itself follow the same ceiling as the beacon's.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options.max_backoff.count()));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(options.min_backoff.count()));
  auto channel = grpc::CreateCustomChannel(options.registry, *creds, args);
  auto stub = v1::Registry::NewStub(channel);
  return std::unique_ptr<Beacon>(new Beacon(std::move(options), holdings, std::move(stub)));
}

Beacon::Beacon(BeaconOptions options, Holdings& holdings, std::unique_ptr<v1::Registry::Stub> stub)
    : options_(std::move(options)),
      holdings_(holdings),
      reaper_(holdings, options_.gc_parallelism),
      stub_(std::move(stub)),
      thread_([this] { run(); }) {}

Beacon::~Beacon() { stop_beating(); }

void Beacon::stop_beating() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Beacon::set_state(v1::WorkerState state) {
  {
    std::lock_guard lock(mu_);
    state_ = state;
    wake_ = true;
  }
  cv_.notify_all();
}

v1::WorkerInfo Beacon::info(size_t containers, size_t volumes) const {
  v1::WorkerInfo w = options_.worker;
  w.set_active_containers(static_cast<int32_t>(containers));
  w.set_active_volumes(static_cast<int32_t>(volumes));
  w.set_active_tasks(holdings_.active_tasks());
  std::lock_guard lock(mu_);
  w.set_state(state_);
  w.set_heartbeat_interval_ms(options_.interval.count());
  w.set_ttl_ms(3 * options_.interval.count());
  return w;
}

Status Beacon::register_once() {
  v1::RegisterRequest req;
  *req.mutable_worker() =
      info(holdings_.container_handles().size(), holdings_.volume_handles().size());
  v1::RegisterResponse resp;
  auto ctx = call_context();
  if (auto s = stub_->Register(ctx.get(), req, &resp); !s.ok())
    return tarmac::from_grpc("register with " + options_.registry, s);
  std::lock_guard lock(mu_);
  if (resp.heartbeat_interval_ms() > 0)
    options_.interval = std::chrono::milliseconds(resp.heartbeat_interval_ms());
  registered_ = true;
  spdlog::info("beacon: registered as {} with {}", options_.worker.name(), options_.registry);
  return {};
}

Status Beacon::beat_once() {
  v1::HeartbeatRequest req;
  // Listed once per beat: the counts are the lists' sizes.
  auto containers = holdings_.container_handles();
  auto volumes = holdings_.volume_handles();
  *req.mutable_worker() = info(containers.size(), volumes.size());
  for (auto& h : containers) req.add_container_handles(std::move(h));
  for (auto& h : volumes) req.add_volume_handles(std::move(h));
  Reaper::Report report = reaper_.take_report();
  for (auto& h : report.destroyed_containers) req.add_destroyed_containers(h);
  for (auto& h : report.destroyed_volumes) req.add_destroyed_volumes(h);
  for (auto& h : report.failed) req.add_failed_to_destroy(h);
  v1::HeartbeatResponse resp;
  auto ctx = call_context();
  auto s = stub_->Heartbeat(ctx.get(), req, &resp);
  if (!s.ok()) {
    // The report was not delivered: the handles lists still say what is gone.
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
      std::lock_guard lock(mu_);
      registered_ = false;
    }
    return tarmac::from_grpc("heartbeat to " + options_.registry, s);
  }
  reaper_.enqueue({resp.destroy_containers().begin(), resp.destroy_containers().end()},
                  {resp.destroy_volumes().begin(), resp.destroy_volumes().end()});
  if (options_.on_answer) options_.on_answer(resp.state());
  if (resp.state() == v1::LANDED) {
    spdlog::info("beacon: the registry has {} landed; no more beats until it starts again",
                 options_.worker.name());
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  return {};
}

void Beacon::run() {
  std::mt19937 rng(std::random_device{}());
  auto backoff = options_.min_backoff;
  std::string last_error;  // logged once, not on every retry
  for (;;) {
    bool registered;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      registered = registered_;
    }
    // Beats keep their rate however long the registry takes to answer (less than an
    // interval), so a slow web node does not see a healthy worker fall silent; one slower
    // than that still gets a pause between beats, not one beat after another.
    auto began = std::chrono::steady_clock::now();
    Status s = registered ? beat_once() : register_once();
    bool again_now = false;
    {
      std::lock_guard lock(mu_);
      if (s.ok()) {
        last_error.clear();
        backoff = options_.min_backoff;
        // A fresh registration beats at once, so the registry hears the handles.
        again_now = !registered;
      } else {
        if (last_error != s.error().what()) spdlog::warn("beacon: {}", s.error().what());
        last_error = s.error().what();
        // A forgotten worker registers again at once; other failures back off.
        again_now = !registered_ && registered;
      }
    }
    if (again_now) continue;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    std::chrono::milliseconds wait = std::max(options_.interval - took, options_.interval / 4);
    if (!s.ok()) {
      // Jitter (half to all of the backoff), so a fleet of workers does not come back to a
      // restarted web node at once.
      std::uniform_int_distribution<long> jitter(backoff.count() / 2, backoff.count());
      wait = std::chrono::milliseconds(jitter(rng));
      backoff = std::min(options_.max_backoff, backoff * 2);
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [this] { return stopping_ || wake_; });
    wake_ = false;
  }
}

Status Beacon::land() {
  stop_beating();
  v1::LandRequest req;
  req.set_name(options_.worker.name());
  v1::LandResponse resp;
  auto ctx = call_context();
  if (auto s = stub_->Land(ctx.get(), req, &resp); !s.ok())
    return tarmac::from_grpc("land at " + options_.registry, s);
  return {};
}

Status Beacon::retire() {
  // No beat may follow: the registry would take it for a worker to register again.
  stop_beating();
  v1::RetireRequest req;
  req.set_name(options_.worker.name());
  v1::RetireResponse resp;
  auto ctx = call_context();
  if (auto s = stub_->Retire(ctx.get(), req, &resp); !s.ok())
    return tarmac::from_grpc("retire at " + options_.registry, s);
  return {};
}

}  // namespace tarmac::beacon
