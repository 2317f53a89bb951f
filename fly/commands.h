#pragma once

#include <string>
#include <vector>

#include "fly/flyrc.h"

namespace tarmac::fly {

// What every command gets: the flyrc and the target named by -t.
struct Global {
  std::string target;
  bool print_table_headers = false;
  std::string flyrc_path;
};

struct LoginOptions {
  std::string url, team = "main", username, password, ca_cert_file;
  bool insecure = false;
};

struct ExecuteOptions {
  std::string config;
  std::vector<std::string> inputs, outputs, tags;  // inputs, outputs: name=path
  std::vector<std::string> vars;                   // name=value
  bool privileged = false;
  bool include_ignored = false;
};

struct InterceptOptions {
  std::string build, step, step_type, handle;
  std::vector<std::string> command;  // default: bash (then sh)
};

// Each returns fly's exit code and prints errors as fly does ("error: …" on stderr).
int login(const Global& g, const LoginOptions& o);
int targets(const Global& g);
int status(const Global& g);
int workers(const Global& g, bool details);
int land_worker(const Global& g, const std::string& worker);
int prune_worker(const Global& g, const std::string& worker, bool all_stalled);
int containers(const Global& g);
int volumes(const Global& g, bool details);
int builds(const Global& g, int count, bool all_teams, const std::string& team);
int abort_build(const Global& g, const std::string& build);
int watch(const Global& g, const std::string& build, bool timestamps);
int execute(const Global& g, const ExecuteOptions& o);
int intercept(const Global& g, const InterceptOptions& o);

}  // namespace tarmac::fly
