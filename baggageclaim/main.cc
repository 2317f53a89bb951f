// baggageclaim: the volume service on its own, for tests and debugging (the worker embeds
// the same service).
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "baggageclaim/service.h"
#include "baggageclaim/store.h"
#include "common/crash_report.h"
#include "common/grpc/server.h"

using namespace tarmac::baggageclaim;

int main(int argc, char** argv) {
  tarmac::install_crash_report("baggageclaim");
  CLI::App app{"baggageclaim: the copy-on-write volume store, served over gRPC", "baggageclaim"};
  StoreOptions store_options;
  std::string bind_ip = "127.0.0.1";
  int bind_port = 7788;
  tarmac::TlsFiles tls;
  bool no_idmap = false;
  app.add_option("--volumes", store_options.root, "Directory in which to place volume data")
      ->required();
  app.add_option("--driver", store_options.driver, "Driver: detect, overlay or naive")
      ->check(CLI::IsMember({"detect", "overlay", "naive"}))
      ->capture_default_str();
  app.add_option("--bind-ip", bind_ip, "IP address on which to listen")->capture_default_str();
  app.add_option("--bind-port", bind_port, "Port on which to listen (0 picks one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--tls-cert", tls.cert, "PEM certificate (mutual TLS; needed off loopback)");
  app.add_option("--tls-key", tls.key, "PEM private key of --tls-cert");
  app.add_option("--tls-ca", tls.ca, "PEM CA that clients' and peers' certificates chain to");
  app.add_option("--unprivileged-uid-base", store_options.ids.host_base,
                 "Host id of root in unprivileged containers")
      ->capture_default_str();
  app.add_option("--unprivileged-uid-count", store_options.ids.size,
                 "Ids mapped for unprivileged containers")
      ->capture_default_str();
  app.add_flag("--no-idmapped-mounts", no_idmap,
               "Chown unprivileged volumes instead of using idmapped mounts (new stores only)");
  CLI11_PARSE(app, argc, argv);
  // stdout carries the "listening on" line for scripts; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("baggageclaim"));
  store_options.idmap = !no_idmap;

  // Signals are taken by a thread of their own, so block them before any other starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = Store::open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "baggageclaim: %s\n", store.error().what().c_str());
    return 1;
  }
  VolumeService service(**store, tls);
  std::string address = (bind_ip.find(':') != std::string::npos ? "[" + bind_ip + "]" : bind_ip) +
                        ":" + std::to_string(bind_port);
  auto server = tarmac::start_server(address, {&service}, tls);
  if (!server.ok()) {
    std::fprintf(stderr, "baggageclaim: %s\n", server.error().what().c_str());
    return 1;
  }
  spdlog::info("baggageclaim: driver {}, {} unprivileged volumes, volumes in {}",
               (*store)->driver_name(), (*store)->idmapped() ? "idmapped" : "chowned",
               store_options.root);
  // Tests and scripts read the chosen port from this line.
  std::printf("listening on %s:%d\n", bind_ip.c_str(), server->port);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("baggageclaim: signal {}, stopping", sig);
  // In-flight calls get a moment to finish, then are cancelled: a stream cut short is
  // dropped whole by the store, never taken half.
  server->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
