// tarmac: the web node, the worker and the operator commands in one binary.
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cmd/tarmac/generate_key.h"
#include "worker/worker.h"

namespace {

int run_worker(tarmac::worker::WorkerOptions options) {
  // Signals are taken by this thread, so block them before any other starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT}) sigaddset(&signals, s);
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
  spdlog::info("worker: signal {}, stopping (containers keep running)", sig);
  (*worker)->shutdown(std::chrono::seconds(2));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
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

  tarmac::cmd::GenerateKeyOptions gk;
  tarmac::cmd::add_generate_key(app, gk);

  CLI11_PARSE(app, argc, argv);
  // stdout carries the "listening on" line for scripts; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("tarmac"));
  if (worker->parsed()) {
    wo.idmapped_mounts = !no_idmap;
    return run_worker(wo);
  }
  if (app.got_subcommand("generate-key")) return tarmac::cmd::run_generate_key(gk);
  return 2;
}
