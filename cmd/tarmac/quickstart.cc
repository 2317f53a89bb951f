#include "cmd/tarmac/quickstart.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "atc/auth/password.h"
#include "atc/db/embedded_postgres.h"
#include "atc/web_node.h"
#include "common/fs.h"
#include "common/tls/keys.h"
#include "worker/runtime/busybox_rootfs.h"
#include "worker/worker.h"

namespace tarmac::cmd {
namespace {

Status write_pair(const std::string& dir, const std::string& name, const tls::KeyPair& kp) {
  TARMAC_TRY(fs::write_file_atomic(dir + "/" + name + ".key", kp.key_pem, 0600, true));
  return fs::write_file_atomic(dir + "/" + name + ".crt", kp.cert_pem, 0644, true);
}

// The CA, the web node's and the worker's certificates, and the worker's key authorized;
// made once, kept across restarts.
Status ensure_keys(const std::string& dir, const std::string& worker_name) {
  if (fs::exists(dir + "/authorized_worker_keys")) return ok_status();
  TARMAC_TRY(fs::make_dirs(dir, 0700));
  auto ca = tls::make_ca("tarmac quickstart CA", 3650);
  if (!ca) return std::move(ca).error();
  auto web = tls::make_leaf(*ca, "web", {"127.0.0.1", "localhost"}, 3650);
  if (!web) return std::move(web).error();
  auto worker = tls::make_leaf(*ca, worker_name, {"127.0.0.1", "localhost"}, 3650);
  if (!worker) return std::move(worker).error();
  TARMAC_TRY(write_pair(dir, "ca", *ca));
  TARMAC_TRY(write_pair(dir, "web", *web));
  TARMAC_TRY(write_pair(dir, "worker", *worker));
  auto fp = tls::public_key_fingerprint(worker->cert_pem);
  if (!fp) return std::move(fp).error();
  return fs::write_file_atomic(dir + "/authorized_worker_keys", *fp + "\n", 0644, true);
}

TlsFiles files(const std::string& dir, const std::string& name) {
  return {dir + "/" + name + ".crt", dir + "/" + name + ".key", dir + "/ca.crt"};
}

}  // namespace

CLI::App* add_quickstart(CLI::App& app, QuickstartCommand& o) {
  auto* q = app.add_subcommand(
      "quickstart", "Run a web node and a worker on a private PostgreSQL, set up on first start");
  q->add_option("--work-dir", o.work_dir, "Where PostgreSQL, keys, images and volumes live")
      ->capture_default_str();
  q->add_option("--bind-ip", o.bind_ip, "IP address of the HTTP API")->capture_default_str();
  q->add_option("--bind-port", o.bind_port, "Port of the HTTP API (0 picks one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  q->add_option("--add-local-user", o.user,
                "The admin, NAME:PASSWORD (default: admin, password made once and printed)");
  q->add_option("--cgroup-parent", o.cgroup_parent, "Parent cgroup of the worker's containers")
      ->capture_default_str();
  add_postgres_flags(q, o.postgres);
  return q;
}

int run_quickstart(QuickstartCommand& o) {
  auto failed = [](const Error& e) {
    std::fprintf(stderr, "tarmac quickstart: %s\n", e.what().c_str());
    return 1;
  };
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (auto s = fs::make_dirs(o.work_dir, 0711); !s.ok()) return failed(s.error());
  ::chmod(o.work_dir.c_str(), 0711);  // PostgreSQL (another user) and containers reach inside
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string worker_name = host[0] ? host : "quickstart";
  std::string keys = o.work_dir + "/keys";
  if (auto s = ensure_keys(keys, worker_name); !s.ok()) return failed(s.error().wrap("keys"));

  std::string images = o.work_dir + "/images";
  if (!fs::exists(images + "/busybox/bin/sh")) {
    (void)fs::make_dirs(images, 0755);
    if (auto s = runtime::make_busybox_rootfs(images + "/busybox"); !s.ok())
      return failed(s.error().wrap("bundled image"));
  }

  std::string admin = o.user;
  if (admin.empty()) {
    std::string path = o.work_dir + "/admin-password";
    auto saved = fs::read_file(path);
    std::string password = saved && !saved->empty() ? *saved : atc::auth::random_hex(8);
    if (!saved) (void)fs::write_file_atomic(path, password, 0600, true);
    admin = "admin:" + password;
  }

  std::unique_ptr<atc::db::EmbeddedPostgres> pg;
  PostgresFlags db = o.postgres;
  bool own_postgres = o.postgres.socket.empty() && o.postgres.host == "127.0.0.1" &&
                      o.postgres.port == 5432 && o.postgres.user.empty();
  if (own_postgres) {
    atc::db::EmbeddedPostgresOptions po;
    po.data_dir = o.work_dir + "/postgres";
    auto started = atc::db::EmbeddedPostgres::start(po);
    if (!started) return failed(started.error());
    pg = std::move(*started);
    auto created = pg->create_database("atc");
    if (!created.ok() && created.error().errnum() != EEXIST &&
        created.error().message().find("already exists") == std::string::npos)
      return failed(created.error());
    db.port = pg->port();
    db.user = "tarmac";
  }

  WebCommand web;
  web.postgres = db;
  web.web.http_bind_ip = o.bind_ip;
  web.web.http_port = o.bind_port;
  web.tsa_bind_ip = "127.0.0.1";
  web.tsa_bind_port = 0;
  web.web.registry_tls = files(keys, "web");
  web.web.worker_keys_file = keys + "/authorized_worker_keys";
  web.local_users = {admin};
  web.web.main_team_users = {admin.substr(0, admin.find(':'))};
  web.gc_interval_s = 10;
  auto node = start_web_node(web);
  if (!node) return failed(node.error());

  worker::WorkerOptions wo;
  wo.work_dir = o.work_dir + "/worker";
  wo.bind_ip = "127.0.0.1";
  wo.bind_port = 0;
  wo.tls = files(keys, "worker");
  wo.registry = "127.0.0.1:" + std::to_string((*node)->registry_port());
  wo.name = worker_name;
  wo.cgroup_parent = o.cgroup_parent;
  wo.heartbeat_interval = std::chrono::seconds(5);
  auto w = worker::Worker::start(wo);
  if (!w) return failed(w.error());

  std::string url = "http://" + o.bind_ip + ":" + std::to_string((*node)->http_port());
  std::printf("tarmac quickstart: web node at %s, worker %s, PostgreSQL %s\n", url.c_str(),
              worker_name.c_str(), own_postgres ? (o.work_dir + "/postgres").c_str() : "given");
  std::printf("  fly -t local login -c %s -u %s -p %s\n", url.c_str(),
              admin.substr(0, admin.find(':')).c_str(), admin.substr(admin.find(':') + 1).c_str());
  std::printf("  tasks can use the bundled image: rootfs_uri: raw://%s/busybox\n", images.c_str());
  std::printf("listening on %s:%d\n", o.bind_ip.c_str(), (*node)->http_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("quickstart: signal {}, stopping", sig);
  (*w)->shutdown(std::chrono::seconds(2));
  w->reset();
  (*node)->shutdown();
  node->reset();
  return 0;
}

}  // namespace tarmac::cmd
