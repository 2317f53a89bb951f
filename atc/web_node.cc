#include "atc/web_node.h"

#include "atc/db/artifacts.h"
#include "atc/db/builds.h"

#include <spdlog/spdlog.h>

#include "atc/api/api_server.h"
#include "atc/auth/accounts.h"
#include "atc/db/components.h"
#include "atc/db/migrate.h"
#include "atc/engine/engine.h"

namespace tarmac::atc {

Result<std::unique_ptr<WebNode>> WebNode::start(WebOptions options) {
  std::unique_ptr<WebNode> node(new WebNode(std::move(options)));
  WebOptions& o = node->options_;
  auto pool = db::Pool::create({o.postgres, o.pool_size});
  if (!pool) return std::move(pool).error().wrap("web");
  node->pool_ = std::move(*pool);
  auto migrated = db::migrate(*node->pool_);
  if (!migrated) return std::move(migrated).error().wrap("web");
  for (const auto& m : migrated->applied) spdlog::info("web: applied migration {}", m);

  node->workers_ = std::make_unique<db::WorkerStore>(*node->pool_);
  node->gc_ = std::make_unique<db::GcStore>(*node->pool_, o.missing_grace);
  node->accounts_ = std::make_unique<auth::Accounts>(*node->pool_, o.token_ttl);
  TARMAC_RETURN_IF_ERROR(node->seed_users(), "web");

  RegistryOptions reg;
  reg.tls = o.registry_tls.enabled();
  if (reg.tls) {
    if (o.worker_keys_file.empty())
      return Error("web: the registry has TLS but no --worker-keys file to authorize workers",
                   EINVAL);
    auto keys = load_authorized_worker_keys(o.worker_keys_file);
    if (!keys) return std::move(keys).error().wrap("web");
    reg.keys = std::move(*keys);
  }
  node->registry_service_ = std::make_unique<RegistryService>(*node->workers_, *node->gc_, reg);
  auto server = start_server(o.registry_bind, {node->registry_service_.get()}, o.registry_tls);
  if (!server) return std::move(server).error().wrap("web: registry");
  node->registry_ = std::move(*server);

  api::ServerOptions http;
  http.bind_ip = o.http_bind_ip;
  http.port = o.http_port;
  http.cert_file = o.http_cert;
  http.key_file = o.http_key;
  http.io_timeout_seconds = o.client_timeout_seconds;
  http.max_streaming_handlers = o.max_streaming_requests;
  // The engine first: the API tells it of new builds.
  engine::EngineOptions eo;
  eo.worker_tls = o.registry_tls;
  eo.intercept_grace_s = o.one_off_grace.count();
  eo.poll = o.build_tracker_interval;
  eo.placement = o.placement;
  node->engine_ = std::make_unique<engine::Engine>(*node->pool_, *node->workers_, eo);
  node->engine_->start();
  std::string url = o.external_url;
  api::ApiContext ctx{*node->pool_,
                      *node->accounts_,
                      *node->workers_,
                      url,
                      o.cluster_name,
                      [e = node->engine_.get()] { e->wake(); },
                      node->engine_->clients()};
  auto api = ApiServer::start(http, std::move(ctx));
  if (!api) return std::move(api).error().wrap("web");
  node->api_ = std::move(*api);
  node->periodic_ = std::thread([n = node.get()] { n->periodic(); });
  return node;
}

WebNode::WebNode(WebOptions o) : options_(std::move(o)) {}

WebNode::~WebNode() { shutdown(); }

int WebNode::http_port() const { return api_ ? api_->port() : 0; }

void WebNode::shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (periodic_.joinable()) periodic_.join();
  if (api_) api_->stop();
  if (engine_) engine_->stop();
  if (registry_.server)
    registry_.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

Status WebNode::seed_users() {
  for (const auto& [name, password] : options_.local_users)
    TARMAC_TRY(accounts_->set_user(name, password));
  for (const auto& name : options_.main_team_users)
    TARMAC_TRY(accounts_->grant("main", name, auth::Role::kOwner));
  return ok_status();
}

void WebNode::periodic() {
  // Ticks often and lets the database decide whether a pass is due, so the cadence holds
  // across nodes however many there are.
  auto tick = std::min(options_.gc_interval, std::chrono::milliseconds(1000));
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, tick, [this] { return stopping_; })) return;
    }
    auto workers = db::run_if_due(*pool_, "workers", options_.gc_interval, [this]() -> Status {
      auto t = workers_->transition();
      if (!t) return std::move(t).error();
      for (auto& n : t->stalled) spdlog::warn("web: worker {} stalled", n);
      for (auto& n : t->landed) spdlog::info("web: worker {} landed", n);
      for (auto& n : t->retired) spdlog::info("web: worker {} retired", n);
      for (auto& n : t->expired_ephemeral) spdlog::info("web: ephemeral worker {} gone", n);
      return ok_status();
    });
    if (!workers) spdlog::warn("web: {}", workers.error().what());
    auto gc = db::run_if_due(*pool_, "gc", options_.gc_interval, [this]() -> Status {
      // fly uploads right before it creates the build and downloads right after it ends: an
      // hour either side is plenty (Concourse keeps them 12 hours).
      auto expired = db::ArtifactStore(*pool_).expire(3600);
      if (!expired) return std::move(expired).error();
      db::BuildStore builds(*pool_);
      if (auto ids = builds.uncompacted(20); ids)
        for (int64_t id : *ids) (void)builds.compact_events(id);
      if (auto reaped = builds.reap_logs(options_.log_retention); reaped && *reaped)
        spdlog::info("web: build logs of {} builds reaped", *reaped);
      auto n = gc_->mark_orphans();
      if (!n) return std::move(n).error();
      if (n->containers || n->volumes)
        spdlog::info("web: gc: {} containers and {} volumes to destroy", n->containers, n->volumes);
      return accounts_->expire_tokens();
    });
    if (!gc) spdlog::warn("web: {}", gc.error().what());
  }
}

}  // namespace tarmac::atc
