// bpm: runs the processes of BOSH jobs from bpm.yml in containers of the tarmac runtime.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "worker/bpm/commands.h"

int main(int argc, char** argv) {
  using namespace tarmac::bpm;
  CLI::App app{"A bosh process manager for starting and stopping release jobs", "bpm"};
  app.require_subcommand(1);
  bool show_version = false;
  app.add_flag("--version", show_version, "print BPM version");

  Target target;
  auto with_target = [&](CLI::App* cmd) {
    cmd->add_option("job", target.job, "the job's name")->required();
    cmd->add_option("-p,--process", target.process, "optional process name");
  };
  auto* start = app.add_subcommand("start", "starts a BOSH Process");
  with_target(start);
  auto* stop = app.add_subcommand("stop", "stops a BOSH Process");
  with_target(stop);
  auto* run = app.add_subcommand("run", "runs a bosh process synchronously");
  with_target(run);
  std::vector<std::string> volumes, env;
  run->add_option("-v,--volume", volumes, "Optional list of volumes (format: <path>[:<options>])");
  run->add_option("-e,--env", env, "Additional environment variables (format: KEY=VALUE)");
  auto* list = app.add_subcommand("list", "list the state of bpm containers");
  auto* pid = app.add_subcommand("pid", "displays the pid for a given job");
  with_target(pid);
  auto* logs = app.add_subcommand("logs", "streams the logs for a given job");
  with_target(logs);
  bool all = false, err_only = false, follow = false, quiet = false;
  int lines = 25;
  logs->add_flag("-a,--all", all, "show both stdout and stderr");
  logs->add_flag("-e,--err", err_only, "show stderr");
  logs->add_flag("-f,--follow", follow, "show and follow specified logs");
  logs->add_option("-n,--lines", lines, "number of lines to show")->check(CLI::NonNegativeNumber);
  logs->add_flag("-q,--quiet", quiet, "suppress filename headers");
  auto* shell = app.add_subcommand("shell", "start a shell inside the process container");
  with_target(shell);
  auto* trace = app.add_subcommand("trace", "traces a BOSH Process");
  with_target(trace);
  auto* version = app.add_subcommand("version", "prints the BPM version");

  // --version alone is enough, as bpm's persistent flag.
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--version") {
      std::cout << TARMAC_VERSION << "\n";
      return 0;
    }
  CLI11_PARSE(app, argc, argv);
  if (version->parsed()) {
    std::cout << TARMAC_VERSION << "\n";
    return 0;
  }
  if (::geteuid() != 0) {
    std::cerr << "Error: bpm must be run as root. Please run 'sudo -i' to become the root user.\n";
    return 1;
  }
  if (target.process.empty()) target.process = target.job;
  CommandContext ctx{BoshPaths::from_env()};
  if (start->parsed()) return start_command(ctx, target);
  if (stop->parsed()) return stop_command(ctx, target);
  if (run->parsed()) return run_command(ctx, target, volumes, env);
  if (list->parsed()) return list_command(ctx);
  if (pid->parsed()) return pid_command(ctx, target);
  if (logs->parsed()) return logs_command(ctx, target, all, err_only, follow, lines, quiet);
  if (shell->parsed()) return shell_command(ctx, target);
  if (trace->parsed()) return trace_command(ctx, target);
  return 1;
}
