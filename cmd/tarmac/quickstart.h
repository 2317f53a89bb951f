#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cmd/tarmac/web.h"

namespace tarmac::cmd {

struct QuickstartCommand {
  std::string work_dir = "/var/lib/tarmac";
  std::string bind_ip = "127.0.0.1";
  int bind_port = 8080;
  std::string user;  // NAME:PASSWORD; default admin with a password made once and kept
  std::string cgroup_parent = "tarmac";
  PostgresFlags postgres;  // any --postgres-* flag: that server instead of a private one
};

// `tarmac quickstart`: a private PostgreSQL (initdb'd under the work dir), a web node and a
// worker in one process, with an installation CA, web and worker certificates (mutual TLS
// between them even on loopback) and an admin user, all made on first start and reused; a
// busybox image under <work-dir>/images/busybox for tasks that say
// `rootfs_uri: raw:///<work-dir>/images/busybox`.
CLI::App* add_quickstart(CLI::App& app, QuickstartCommand& options);
int run_quickstart(QuickstartCommand& options);

}  // namespace tarmac::cmd
