#include "worker/runtime/cgroup_common.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <sstream>
#include <thread>

#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::runtime {

std::string pid_list(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t p : pids) {
    out += ' ';  // appended apart: GCC 12 -O3 misreads " " + to_string as overlapping
    out += std::to_string(p);
  }
  return out;
}

Status check_cgroup_name(const std::string& name) {
  bool bad = name.empty() || name[0] == '/' || name.back() == '/';
  std::istringstream parts(name);
  std::string part;
  while (!bad && std::getline(parts, part, '/')) bad = part.empty() || part == "." || part == "..";
  if (bad) return Error("cgroup name \"" + name + "\": expected a relative path like tarmac/<id>");
  return {};
}

Result<std::vector<pid_t>> read_pids(const std::string& procs_file) {
  auto text = fs::read_file(procs_file);
  if (!text) return std::move(text).error();
  std::vector<pid_t> pids;
  std::istringstream in(*text);
  pid_t pid;
  while (in >> pid) pids.push_back(pid);
  return pids;
}

Result<uint64_t> read_keyed(const std::string& file, const std::string& key) {
  auto text = fs::read_file(file);
  if (!text) return std::move(text).error();
  std::istringstream in(*text);
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return Error(file + ": no \"" + key + "\" line");
}

Status write_each(const std::string& file, const std::vector<const char*>& lines) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return sys_error("open " + file);
  for (const char* line : lines) {
    size_t n = std::strlen(line);
    if (::write(fd.get(), line, n) != static_cast<ssize_t>(n))
      return sys_error("write \"" + std::string(line) + "\" to " + file);
  }
  return {};
}

Status remove_cgroup_dir(const std::string& dir) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY) return sys_error("rmdir " + dir);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return sys_error("rmdir " + dir, EBUSY);
}

Status kill_until_empty(const std::string& procs_file, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto pids = read_pids(procs_file);
    if (!pids) {
      if (pids.error().errnum() == ENOENT) return {};
      return std::move(pids).error();
    }
    if (pids->empty()) return {};
    if (std::chrono::steady_clock::now() > deadline) {
      return Error("kill " + procs_file + ": still running after SIGKILL:" + pid_list(*pids));
    }
    for (pid_t p : *pids) ::kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace tarmac::runtime
