// tarmac: the web node, the worker and the operator commands in one binary.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cmd/tarmac/generate_key.h"
#include "cmd/tarmac/quickstart.h"
#include "cmd/tarmac/web.h"
#include "common/crash_report.h"
#include "worker/worker.h"

namespace {

int run_worker(tarmac::worker::WorkerOptions options, std::chrono::milliseconds drain_timeout) {
  using tarmac::worker::DrainMode;
  // Signals are taken by this thread, so block them before any other starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto worker = tarmac::worker::Worker::start(options);
  if (!worker) {
    std::fprintf(stderr, "tarmac worker: %s\n", worker.error().what().c_str());
    return 1;
  }
  // Tests and scripts read the chosen port from this line.
  std::printf("listening on %s:%d\n", options.bind_ip.c_str(), (*worker)->port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  if (sig == SIGUSR1 || sig == SIGUSR2) {
    DrainMode mode = sig == SIGUSR1 ? DrainMode::kLand : DrainMode::kRetire;
    spdlog::info("worker: signal {}: {}", sig, sig == SIGUSR1 ? "landing" : "retiring");
    // SIGTERM or SIGINT during the drain ends the wait early.
    auto interrupted = [&signals] {
      timespec zero = {0, 0};
      int s = sigtimedwait(&signals, nullptr, &zero);
      return s == SIGTERM || s == SIGINT;
    };
    auto drained = (*worker)->drain(mode, drain_timeout, interrupted);
    (*worker)->shutdown(std::chrono::seconds(2));
    if (!drained.ok()) {
      std::fprintf(stderr, "tarmac worker: %s\n", drained.error().what().c_str());
      return 1;
    }
    return 0;
  }
  spdlog::info("worker: signal {}, stopping (containers keep running)", sig);
  (*worker)->shutdown(std::chrono::seconds(2));
  return 0;
}

// land-worker / retire-worker: signal the worker running on a work dir, as a BOSH drain script
// or an operator would.
int signal_worker(const std::string& work_dir, int sig, const char* command) {
  auto pid = tarmac::worker::running_worker_pid(work_dir);
  if (!pid) {
    std::fprintf(stderr, "tarmac %s: %s\n", command, pid.error().what().c_str());
    return 1;
  }
  if (::kill(*pid, sig) != 0) {
    std::fprintf(stderr, "tarmac %s: signal worker %d: %s\n", command, *pid, std::strerror(errno));
    return 1;
  }
  std::printf("worker %d is %s\n", *pid, sig == SIGUSR1 ? "landing" : "retiring");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  tarmac::install_crash_report("tarmac");
  CLI::App app{"tarmac: a Concourse-style CI system", "tarmac"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(TARMAC_VERSION));

  tarmac::worker::WorkerOptions wo;
  bool no_idmap = false;
  auto* worker = app.add_subcommand("worker", "Run a worker: containers and volumes over gRPC");
  worker->add_option("--work-dir", wo.work_dir, "Directory for volumes, containers and state")
      ->required();
  worker->add_option("--bind-ip", wo.bind_ip, "IP address on which to listen")
      ->capture_default_str();
  worker->add_option("--bind-port", wo.bind_port, "Port on which to listen (0 picks one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  worker->add_option("--tls-cert", wo.tls.cert,
                     "PEM certificate (mutual TLS; needed off loopback)");
  worker->add_option("--tls-key", wo.tls.key, "PEM private key of --tls-cert");
  worker->add_option("--tls-ca", wo.tls.ca, "PEM CA that clients' certificates chain to");
  worker
      ->add_option("--baggageclaim-driver", wo.volume_driver,
                   "Volume driver: detect, overlay or naive")
      ->check(CLI::IsMember({"detect", "overlay", "naive"}))
      ->capture_default_str();
  worker
      ->add_option("--unprivileged-uid-base", wo.ids.host_base,
                   "Host id of root in unprivileged containers")
      ->capture_default_str();
  worker
      ->add_option("--unprivileged-uid-count", wo.ids.size,
                   "Ids mapped for unprivileged containers")
      ->capture_default_str();
  worker->add_flag("--no-idmapped-mounts", no_idmap,
                   "Chown unprivileged volumes instead of idmapped mounts (new work dirs only)");
  worker->add_option("--cgroup-parent", wo.cgroup_parent, "Parent cgroup of every container")
      ->capture_default_str();
  worker
      ->add_option("--output-retain-bytes", wo.output_retain_bytes,
                   "Output kept per process for clients that are away")
      ->capture_default_str();
  worker->add_option("--registry", wo.registry,
                     "host:port of the web node's worker registry (none: do not register)");
  worker->add_option("--name", wo.name, "The name to register with (default: the host name)");
  worker->add_option("--external-address", wo.external_address,
                     "host:port the web node dials (default: --bind-ip and the port)");
  worker->add_option("--platform", wo.platform, "Platform of tasks it runs")->capture_default_str();
  worker->add_option("--tag", wo.tags, "A tag; only steps with this tag run here (repeatable)");
  worker->add_option("--team", wo.team, "The one team whose work this worker takes");
  worker->add_flag("--ephemeral", wo.ephemeral, "Removed by the web node once it stalls");
  worker->add_option("--resource-types", wo.resource_types,
                     "Directory of bundled resource types (<type>/resource_metadata.json and "
                     "rootfs.tgz), registered with the web node");
  double heartbeat_s = 10, drain_timeout_s = 3600;
  worker->add_option("--heartbeat-interval", heartbeat_s, "Seconds between heartbeats")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  worker
      ->add_option("--drain-timeout", drain_timeout_s,
                   "Seconds landing or retiring waits for running tasks")
      ->check(CLI::Range(0.0, 604800.0))
      ->capture_default_str();
  worker
      ->add_option("--gc-parallelism", wo.gc_parallelism,
                   "Containers destroyed at once when the web node asks")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();

  std::string drain_dir;
  auto* land = app.add_subcommand("land-worker", "Land the worker running on a work dir");
  land->add_option("--work-dir", drain_dir, "The worker's --work-dir")->required();
  auto* retire = app.add_subcommand("retire-worker", "Retire the worker running on a work dir");
  retire->add_option("--work-dir", drain_dir, "The worker's --work-dir")->required();

  tarmac::cmd::GenerateKeyOptions gk;
  tarmac::cmd::add_generate_key(app, gk);

  tarmac::cmd::WebCommand web_options;
  auto* web = tarmac::cmd::add_web(app, web_options);
  tarmac::cmd::QuickstartCommand quickstart_options;
  auto* quickstart = tarmac::cmd::add_quickstart(app, quickstart_options);
  tarmac::cmd::PostgresFlags migrate_pg;
  bool show_db_version = false;
  auto* migrate = tarmac::cmd::add_migrate(app, migrate_pg, show_db_version);

  CLI11_PARSE(app, argc, argv);
  // stdout carries the "listening on" line for scripts; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("tarmac"));
  if (worker->parsed()) {
    wo.idmapped_mounts = !no_idmap;
    wo.heartbeat_interval = std::chrono::milliseconds(static_cast<int64_t>(heartbeat_s * 1000));
    return run_worker(wo, std::chrono::milliseconds(static_cast<int64_t>(drain_timeout_s * 1000)));
  }
  if (web->parsed()) return tarmac::cmd::run_web(web_options);
  if (quickstart->parsed()) return tarmac::cmd::run_quickstart(quickstart_options);
  if (migrate->parsed()) return tarmac::cmd::run_migrate(migrate_pg, show_db_version);
  if (land->parsed()) return signal_worker(drain_dir, SIGUSR1, "land-worker");
  if (retire->parsed()) return signal_worker(drain_dir, SIGUSR2, "retire-worker");
  if (app.got_subcommand("generate-key")) return tarmac::cmd::run_generate_key(gk);
  return 2;
}
