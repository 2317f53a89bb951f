#include "worker/bpm/volume_flag.h"

namespace tarmac::bpm {

Result<Volume> parse_volume_flag(const std::string& flag, const BoshPaths& paths,
                                 const std::string& job) {
  Volume v;
  size_t colon = flag.find(':');
  v.path = flag.substr(0, colon);
  if (colon != std::string::npos) {
    std::string opts = flag.substr(colon + 1);
    size_t start = 0;
    while (start <= opts.size()) {
      size_t end = opts.find(',', start);
      if (end == std::string::npos) end = opts.size();
      std::string opt = opts.substr(start, end - start);
      if (opt == "writable") {
        v.writable = true;
      } else if (opt == "mount_only") {
        v.mount_only = true;
      } else if (opt == "allow_executions") {
        v.allow_executions = true;
      } else if (opt == "shared") {
        v.shared = true;
      } else {
        return Error("-v " + flag + ": unknown option \"" + opt +
                     "\"; expected writable, mount_only, allow_executions or shared");
      }
      start = end + 1;
    }
  }
  JobConfig check;
  ProcessConfig p;
  p.name = job;
  p.executable = "/bin/true";
  p.additional_volumes.push_back(v);
  check.processes.push_back(p);
  TARMAC_RETURN_IF_ERROR(validate(check, job, paths.root()), "-v " + flag);
  return v;
}

}  // namespace tarmac::bpm
