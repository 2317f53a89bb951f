#include "tests/testutil.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/fs.h"
#include "worker/runtime/busybox_rootfs.h"

namespace tarmac::testing {

bool is_root() { return ::geteuid() == 0; }

TempDir::TempDir(const std::string& prefix) {
  auto dir = fs::make_temp_dir(prefix);
  path_ = dir ? *dir : std::string();
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)fs::remove_all(path_);
}

const std::string& shared_busybox_rootfs() {
  static TempDir* dir = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    dir = new TempDir("tarmac-rootfs");
    auto s = runtime::make_busybox_rootfs(dir->path());
    if (!s) std::fprintf(stderr, "busybox rootfs: %s\n", s.error().what().c_str());
    // Removed at exit so no temp dir outlives the suite.
    std::atexit([] { delete dir; });
  });
  return dir->path();
}

std::string tail(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  size_t from = text.find('\n', text.size() - bytes);
  return from == std::string::npos ? text.substr(text.size() - bytes) : text.substr(from + 1);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string bin_dir() { return TARMAC_BIN_DIR; }

runtime::RuntimeOptions test_runtime_options(const std::string& run_dir) {
  runtime::RuntimeOptions o;
  o.run_dir = run_dir;
  // Fixed at first use, so a forked child that plays a crashing caller shares it.
  static const std::string parent = "tarmac-test-" + std::to_string(::getpid());
  o.cgroup_parent = parent;
  o.init_path = bin_dir() + "/tarmac-init";
  return o;
}

std::vector<std::string> mounts_under(const std::string& prefix) {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.rfind(prefix, 0) == 0) found.push_back(point);
  }
  return found;
}

void kill_cgroup_members(const std::string& name) {
  // find's -exec, not cat $(find): with nothing found cat would wait on the test's stdin.
  run_host("find /sys/fs/cgroup/*/" + name + " /sys/fs/cgroup/" + name +
           " -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -9");
}

void remove_cgroup_parent(const std::string& name) {
  auto hierarchies = fs::list_dir("/sys/fs/cgroup");
  if (!hierarchies) return;
  std::vector<std::string> bases = {"/sys/fs/cgroup/" + name};
  for (const std::string& h : *hierarchies) bases.push_back("/sys/fs/cgroup/" + h + "/" + name);
  // Children first (the worker's shims cgroup); a process that is just exiting may hold one
  // for a moment.
  auto remove = [](const std::string& dir) {
    for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
  };
  for (const std::string& base : bases) {
    if (auto children = fs::list_dir(base); children)
      for (const std::string& c : *children)
        if (fs::exists(base + "/" + c + "/cgroup.procs")) remove(base + "/" + c);
    remove(base);
  }
}

int run_host(const std::string& command, std::string* out) {
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace tarmac::testing
