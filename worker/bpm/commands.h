#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "worker/bpm/paths.h"

namespace tarmac::bpm {

// What every command gets: the BOSH layout and where to talk to the user. Each command
// returns the process's exit code; errors are printed as "Error: ..." like bpm's.
struct CommandContext {
  BoshPaths paths;
  std::ostream& out = std::cout;
  std::ostream& err = std::cerr;
};

struct Target {
  std::string job;
  std::string process;  // defaults to the job's name
};

int start_command(CommandContext& ctx, const Target& t);
int stop_command(CommandContext& ctx, const Target& t);
// -v path[:writable,mount_only,allow_executions,shared] and -e KEY=VALUE as bpm run's.
int run_command(CommandContext& ctx, const Target& t, const std::vector<std::string>& volumes,
                const std::vector<std::string>& env);
int list_command(CommandContext& ctx);
int pid_command(CommandContext& ctx, const Target& t);
int logs_command(CommandContext& ctx, const Target& t, bool all, bool err_only, bool follow,
                 int lines, bool quiet);
int shell_command(CommandContext& ctx, const Target& t);
int trace_command(CommandContext& ctx, const Target& t);

}  // namespace tarmac::bpm
