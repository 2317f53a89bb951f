// fly: the command line of tarmac, with Concourse's command names and flags.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "fly/commands.h"

int main(int argc, char** argv) {
  using namespace tarmac::fly;
  CLI::App app{"fly: drive a tarmac (Concourse-style) CI from the command line", "fly"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("-v,--version", std::string(TARMAC_VERSION));
  Global g;
  g.flyrc_path = flyrc_path();
  app.add_option("-t,--target", g.target, "Concourse target name");
  app.add_flag("--print-table-headers", g.print_table_headers, "Print table headers");

  LoginOptions lo;
  auto* login_cmd = app.add_subcommand("login", "Authenticate with the target");
  login_cmd->alias("l");
  login_cmd->add_option("-c,--concourse-url", lo.url, "Concourse URL to authenticate with");
  login_cmd->add_option("-n,--team-name", lo.team, "Team to authenticate with");
  login_cmd->add_option("-u,--username", lo.username, "Username for basic auth");
  login_cmd->add_option("-p,--password", lo.password, "Password for basic auth");
  login_cmd->add_flag("-k,--insecure", lo.insecure,
                      "Skip verification of the endpoint's SSL certificate");
  login_cmd->add_option("--ca-cert", lo.ca_cert_file,
                        "Path to Concourse PEM-encoded CA certificate file");

  auto* targets_cmd = app.add_subcommand("targets", "List saved targets");
  targets_cmd->alias("ts");
  auto* status_cmd = app.add_subcommand("status", "Login status");

  bool details = false;
  auto* workers_cmd = app.add_subcommand("workers", "List the registered workers");
  workers_cmd->alias("ws");
  workers_cmd->add_flag("-d,--details", details, "Print additional information for each worker");

  std::string worker;
  bool all_stalled = false;
  auto* land_cmd = app.add_subcommand("land-worker", "Land a worker");
  land_cmd->alias("lw");
  land_cmd->add_option("-w,--worker", worker, "Worker to land")->required();
  auto* prune_cmd =
      app.add_subcommand("prune-worker", "Prune a stalled, landing, landed, or retiring worker");
  prune_cmd->alias("pw");
  prune_cmd->add_option("-w,--worker", worker, "Worker to prune");
  prune_cmd->add_flag("-a,--all-stalled", all_stalled, "Prune all stalled workers");

  auto* containers_cmd = app.add_subcommand("containers", "Print the active containers");
  containers_cmd->alias("cs");
  bool volume_details = false;
  auto* volumes_cmd = app.add_subcommand("volumes", "List the active volumes");
  volumes_cmd->alias("vs");
  volumes_cmd->add_flag("-d,--details", volume_details,
                        "Print additional information for each volume");

  int count = 50;
  bool all_teams = false;
  std::string team;
  auto* builds_cmd = app.add_subcommand("builds", "List builds data");
  builds_cmd->alias("bs");
  builds_cmd->add_option("-c,--count", count, "Number of builds you want to limit the return to")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  builds_cmd->add_flag("-a,--all-teams", all_teams,
                       "Show builds for the all teams that user has access to");
  builds_cmd->add_option("--team", team, "Show builds for this team");

  std::string build;
  auto* abort_cmd = app.add_subcommand("abort-build", "Abort a build");
  abort_cmd->alias("ab");
  abort_cmd->add_option("-b,--build", build, "The ID of the one-off build")->required();

  bool timestamps = false;
  auto* watch_cmd = app.add_subcommand("watch", "Stream a build's output");
  watch_cmd->alias("w");
  watch_cmd->add_option("-b,--build", build, "Watches a specific build")->required();
  watch_cmd->add_flag("--timestamps", timestamps, "Print with local timestamp");

  ExecuteOptions eo;
  auto* execute_cmd = app.add_subcommand("execute", "Execute a one-off build using local bits");
  execute_cmd->alias("e");
  execute_cmd->add_option("-c,--config", eo.config, "The task config to execute")->required();
  execute_cmd->add_option("-i,--input", eo.inputs, "An input to provide to the task (name=path)");
  execute_cmd->add_option("-o,--output", eo.outputs,
                          "An output to fetch from the task (name=path)");
  execute_cmd->add_flag("-p,--privileged", eo.privileged, "Run the task with full privileges");
  execute_cmd->add_option("--tag", eo.tags, "A tag for a specific environment (repeatable)");
  execute_cmd->add_option("-v,--var", eo.vars,
                          "A value for ((NAME)) in the task config (NAME=VALUE, repeatable)");
  execute_cmd->add_flag("-x,--include-ignored", eo.include_ignored,
                        "Upload everything, .gitignored paths included");

  InterceptOptions io;
  auto* intercept_cmd =
      app.add_subcommand("intercept", "Execute a command in a container (default: bash)");
  intercept_cmd->alias("hijack");
  intercept_cmd->alias("i");
  intercept_cmd->add_option("-b,--build", io.build, "Build id of a one-off build");
  intercept_cmd->add_option("-s,--step", io.step, "Name of step to intercept (e.g. one-off)");
  intercept_cmd->add_option("--step-type", io.step_type, "Type of step to intercept (e.g. task)");
  intercept_cmd->add_option("--handle", io.handle, "Handle of the container to intercept");
  intercept_cmd->add_option("command", io.command, "The command to run (default: bash)");
  intercept_cmd->positionals_at_end();

  CLI11_PARSE(app, argc, argv);
  // Build output reaches pipes and CI logs line by line, as it happens.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (!g.print_table_headers) g.print_table_headers = isatty(STDOUT_FILENO);
  if (login_cmd->parsed()) return login(g, lo);
  if (targets_cmd->parsed()) return targets(g);
  if (status_cmd->parsed()) return status(g);
  if (workers_cmd->parsed()) return workers(g, details);
  if (land_cmd->parsed()) return land_worker(g, worker);
  if (prune_cmd->parsed()) return prune_worker(g, worker, all_stalled);
  if (containers_cmd->parsed()) return containers(g);
  if (volumes_cmd->parsed()) return volumes(g, volume_details);
  if (builds_cmd->parsed()) return builds(g, count, all_teams, team);
  if (abort_cmd->parsed()) return abort_build(g, build);
  if (watch_cmd->parsed()) return watch(g, build, timestamps);
  if (execute_cmd->parsed()) return execute(g, eo);
  if (intercept_cmd->parsed()) return intercept(g, io);
  return 2;
}
