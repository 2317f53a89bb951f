#include "cmd/tarmac/web.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "atc/db/migrate.h"

namespace tarmac::cmd {
namespace {

std::string conn_value(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

}  // namespace

std::string PostgresFlags::conninfo() const {
  std::string host_or_socket = socket.empty() ? host : socket;
  std::string s = "host=" + conn_value(host_or_socket) + " port=" + std::to_string(port) +
                  " dbname=" + conn_value(database) + " sslmode=" + conn_value(sslmode) +
                  " connect_timeout=10";
  if (!user.empty()) s += " user=" + conn_value(user);
  if (!password.empty()) s += " password=" + conn_value(password);
  return s;
}

void add_postgres_flags(CLI::App* cmd, PostgresFlags& f) {
  cmd->add_option("--postgres-host", f.host, "PostgreSQL host")->capture_default_str();
  cmd->add_option("--postgres-port", f.port, "PostgreSQL port")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  cmd->add_option("--postgres-socket", f.socket,
                  "PostgreSQL unix socket directory (instead of host)");
  cmd->add_option("--postgres-user", f.user, "PostgreSQL user");
  cmd->add_option("--postgres-password", f.password, "PostgreSQL password");
  cmd->add_option("--postgres-database", f.database, "PostgreSQL database")->capture_default_str();
  cmd->add_option("--postgres-sslmode", f.sslmode, "disable, require, verify-ca or verify-full")
      ->check(CLI::IsMember({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}))
      ->capture_default_str();
}

CLI::App* add_web(CLI::App& app, WebCommand& o) {
  auto* web = app.add_subcommand("web", "Run a web node: API, worker registry, scheduler, GC");
  add_postgres_flags(web, o.postgres);
  web->add_option("--bind-ip", o.web.http_bind_ip, "IP address of the HTTP API")
      ->capture_default_str();
  web->add_option("--bind-port", o.web.http_port, "Port of the HTTP API (0 picks one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  web->add_option("--tls-cert", o.web.http_cert, "PEM certificate: serve HTTPS");
  web->add_option("--tls-key", o.web.http_key, "PEM key of --tls-cert");
  web->add_option("--client-timeout", o.web.client_timeout_seconds,
                  "Seconds a client may take to send a request or read an answer")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  web->add_option("--max-streaming-requests", o.web.max_streaming_requests,
                  "Intercept sessions and streamed uploads served at once (each holds a "
                  "thread); more get 503")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  web->add_option("--external-url", o.web.external_url, "URL users reach this node at");
  web->add_option("--cluster-name", o.web.cluster_name, "Name shown to users");
  web->add_option("--tsa-bind-ip", o.tsa_bind_ip, "IP address of the worker registry (gRPC)")
      ->capture_default_str();
  web->add_option("--tsa-bind-port", o.tsa_bind_port, "Port of the worker registry (0 picks one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  web->add_option("--tsa-tls-cert", o.web.registry_tls.cert,
                  "PEM certificate of the registry (mutual TLS; needed off loopback)");
  web->add_option("--tsa-tls-key", o.web.registry_tls.key, "PEM key of --tsa-tls-cert");
  web->add_option("--tsa-tls-ca", o.web.registry_tls.ca, "PEM CA worker certificates chain to");
  web->add_option("--tsa-authorized-keys", o.web.worker_keys_file,
                  "Worker keys let in: fingerprints or PEM certificates, one per line");
  web->add_option("--add-local-user", o.local_users, "A local user, NAME:PASSWORD (repeatable)");
  web->add_option("--main-team-local-user", o.web.main_team_users,
                  "A local user who owns the main team (repeatable)");
  web->add_option("--gc-interval", o.gc_interval_s, "Seconds between GC and worker-state passes")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  web->add_option(
         "--gc-missing-grace-period", o.missing_grace_s,
         "Seconds a container or volume may be missing from its worker before its row goes")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  web->add_option("--gc-one-off-grace-period", o.one_off_grace_s,
                  "Seconds a finished one-off build's containers stay for intercept")
      ->check(CLI::Range(0.0, 604800.0))
      ->capture_default_str();
  web->add_option("--build-tracker-interval", o.build_tracker_interval_s,
                  "Seconds between looks for pending builds made through other web nodes")
      ->check(CLI::Range(0.01, 86400.0))
      ->capture_default_str();
  web->add_option("--container-placement-strategy", o.web.placement.strategies,
                  "How workers are chosen for a step, each narrowing the last: volume-locality, "
                  "fewest-build-containers, limit-active-tasks, random (repeat the flag to chain)")
      ->capture_default_str();
  web->add_option("--max-active-tasks-per-worker", o.web.placement.max_active_tasks,
                  "Most tasks running at once on one worker (with limit-active-tasks; 0 = no "
                  "limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  web->add_option("--default-days-to-retain-build-logs", o.web.log_retention.days,
                  "Days a finished build's log is kept (0 = forever)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  web->add_option("--default-build-logs-to-retain", o.web.log_retention.builds,
                  "Finished builds per team whose logs are kept, newest first (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  web->add_option("--auth-duration", o.auth_duration_h, "Hours a login token lasts")
      ->check(CLI::Range(0.01, 8760.0))
      ->capture_default_str();
  return web;
}

Result<std::unique_ptr<atc::WebNode>> start_web_node(WebCommand& o) {
  o.web.local_users.clear();
  for (const auto& u : o.local_users) {
    size_t colon = u.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == u.size())
      return Error("--add-local-user \"" + u + "\": expected NAME:PASSWORD", EINVAL);
    o.web.local_users.emplace_back(u.substr(0, colon), u.substr(colon + 1));
  }
  o.web.postgres = o.postgres.conninfo();
  o.web.registry_bind = o.tsa_bind_ip + ":" + std::to_string(o.tsa_bind_port);
  o.web.gc_interval = std::chrono::milliseconds(static_cast<int64_t>(o.gc_interval_s * 1000));
  o.web.missing_grace = std::chrono::milliseconds(static_cast<int64_t>(o.missing_grace_s * 1000));
  o.web.one_off_grace = std::chrono::seconds(static_cast<int64_t>(o.one_off_grace_s));
  o.web.build_tracker_interval =
      std::chrono::milliseconds(static_cast<int64_t>(o.build_tracker_interval_s * 1000));
  o.web.token_ttl = std::chrono::seconds(static_cast<int64_t>(o.auth_duration_h * 3600));
  TARMAC_TRY(atc::engine::validate(o.web.placement));
  return atc::WebNode::start(o.web);
}

int run_web(WebCommand& o) {
  bool https = !o.web.http_cert.empty();
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto node = start_web_node(o);
  if (!node) {
    std::fprintf(stderr, "tarmac web: %s\n", node.error().what().c_str());
    return node.error().errnum() == EINVAL ? 2 : 1;
  }
  if (o.web.external_url.empty())
    spdlog::info("web: API at {}://{}:{}", https ? "https" : "http", o.web.http_bind_ip,
                 (*node)->http_port());
  // Tests and scripts read the ports from these lines.
  std::printf("registry listening on %s:%d\n", o.tsa_bind_ip.c_str(), (*node)->registry_port());
  std::printf("listening on %s:%d\n", o.web.http_bind_ip.c_str(), (*node)->http_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("web: signal {}, stopping", sig);
  (*node)->shutdown();
  return 0;
}

CLI::App* add_migrate(CLI::App& app, PostgresFlags& flags, bool& show_version) {
  auto* m = app.add_subcommand("migrate", "Bring the database schema up to this tarmac's");
  add_postgres_flags(m, flags);
  m->add_flag("--current-db-version", show_version, "Print the schema version and change nothing");
  return m;
}

int run_migrate(const PostgresFlags& flags, bool show_version) {
  auto pool = atc::db::Pool::create({flags.conninfo(), 2});
  if (!pool) {
    std::fprintf(stderr, "tarmac migrate: %s\n", pool.error().what().c_str());
    return 1;
  }
  if (show_version) {
    auto v = atc::db::schema_version(**pool);
    if (!v) {
      std::fprintf(stderr, "tarmac migrate: %s\n", v.error().what().c_str());
      return 1;
    }
    std::printf("%lld\n", static_cast<long long>(*v));
    return 0;
  }
  auto r = atc::db::migrate(**pool);
  if (!r) {
    std::fprintf(stderr, "tarmac migrate: %s\n", r.error().what().c_str());
    return 1;
  }
  for (const auto& name : r->applied) std::printf("applied %s\n", name.c_str());
  std::printf("schema at version %lld\n", static_cast<long long>(r->to));
  return 0;
}

}  // namespace tarmac::cmd
