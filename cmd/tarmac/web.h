#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "atc/web_node.h"

namespace tarmac::cmd {

// Concourse's --postgres-* flags.
struct PostgresFlags {
  std::string host = "127.0.0.1", socket, user, password, database = "atc", sslmode = "disable";
  int port = 5432;
  // libpq conninfo, each value quoted.
  std::string conninfo() const;
};

struct WebCommand {
  PostgresFlags postgres;
  atc::WebOptions web;
  std::string tsa_bind_ip = "127.0.0.1";
  int tsa_bind_port = 2222;
  std::vector<std::string> local_users;  // "name:password"
  double gc_interval_s = 30, missing_grace_s = 300, one_off_grace_s = 300, auth_duration_h = 24,
         build_tracker_interval_s = 1;
};

void add_postgres_flags(CLI::App* cmd, PostgresFlags& flags);
CLI::App* add_web(CLI::App& app, WebCommand& options);
int run_web(WebCommand& options);
// The flags made into options, and the node started.
Result<std::unique_ptr<atc::WebNode>> start_web_node(WebCommand& options);

CLI::App* add_migrate(CLI::App& app, PostgresFlags& flags, bool& show_version);
int run_migrate(const PostgresFlags& flags, bool show_version);

}  // namespace tarmac::cmd
