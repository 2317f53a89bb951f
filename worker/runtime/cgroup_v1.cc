// cgroup v1: one directory per controller hierarchy per container.
#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <map>
#include <thread>

#include "common/fs.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/cgroup_common.h"

namespace tarmac::runtime {
namespace {

constexpr const char* kHierarchies[] = {"memory", "pids", "cpu", "freezer", "devices"};

// The standard nodes of the private /dev, and the pty multiplexer's slaves.
constexpr const char* kAllowedDevices[] = {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",
                                           "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm"};

class CgroupV1 final : public Cgroup {
 public:
  explicit CgroupV1(std::map<std::string, std::string> dirs) : dirs_(std::move(dirs)) {}

  Status apply(const CgroupLimits& l) override {
    if (l.memory_bytes) {
      auto dir = need("memory");
      if (!dir) return std::move(dir).error();
      std::string v = std::to_string(*l.memory_bytes);
      TARMAC_RETURN_IF_ERROR(fs::write_file(*dir + "/memory.limit_in_bytes", v), "memory");
      // Swap off: memory+swap may not exceed memory alone.
      if (fs::exists(*dir + "/memory.memsw.limit_in_bytes"))
        TARMAC_RETURN_IF_ERROR(fs::write_file(*dir + "/memory.memsw.limit_in_bytes", v), "memory");
    }
    if (l.pids_max) {
      auto dir = need("pids");
      if (!dir) return std::move(dir).error();
      TARMAC_RETURN_IF_ERROR(fs::write_file(*dir + "/pids.max", std::to_string(*l.pids_max)),
                             "pids");
    }
    if (l.cpu_shares) {
      auto dir = need("cpu");
      if (!dir) return std::move(dir).error();
      TARMAC_RETURN_IF_ERROR(fs::write_file(*dir + "/cpu.shares", std::to_string(*l.cpu_shares)),
                             "cpu");
    }
    if (l.restrict_devices && dirs_.count("devices")) {
      const std::string& dir = dirs_["devices"];
      TARMAC_RETURN_IF_ERROR(fs::write_file(dir + "/devices.deny", "a"), "devices");
      for (const char* rule : kAllowedDevices)
        TARMAC_RETURN_IF_ERROR(fs::write_file(dir + "/devices.allow", rule), "devices");
    }
    return {};
  }

  Status add_process(pid_t pid) override {
    for (const auto& [name, dir] : dirs_)
      TARMAC_RETURN_IF_ERROR(fs::write_file(dir + "/cgroup.procs", std::to_string(pid)),
                             "join " + name + " cgroup");
    return {};
  }

  Result<std::vector<pid_t>> processes() override { return read_pids(procs_file()); }

  Result<uint64_t> oom_kills() override {
    if (!dirs_.count("memory")) return uint64_t{0};
    return read_keyed(dirs_["memory"] + "/memory.oom_control", "oom_kill");
  }

  Status kill_all() override {
    if (!fs::exists(procs_file())) return {};
    // Frozen, nothing can fork while we kill; thawed, the killed can die. Repeat until empty.
    bool freezer = dirs_.count("freezer") && fs::exists(dirs_["freezer"] + "/freezer.state");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto pids = read_pids(procs_file());
      if (!pids) return std::move(pids).error();
      if (pids->empty()) return {};
      if (std::chrono::steady_clock::now() > deadline)
        return kill_until_empty(procs_file(), std::chrono::milliseconds(0));
      if (freezer) (void)freeze("FROZEN");
      for (pid_t p : *pids) ::kill(p, SIGKILL);
      if (freezer) (void)fs::write_file(dirs_["freezer"] + "/freezer.state", "THAWED");
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  Status destroy() override {
    for (const auto& [name, dir] : dirs_) TARMAC_RETURN_IF_ERROR(remove_cgroup_dir(dir), "destroy");
    return {};
  }

  std::vector<std::string> paths() const override {
    std::vector<std::string> out;
    for (const auto& [name, dir] : dirs_) out.push_back(dir);
    return out;
  }

 private:
  Result<std::string> need(const std::string& controller) {
    auto it = dirs_.find(controller);
    if (it == dirs_.end())
      return Error("cgroup v1: no " + controller + " hierarchy, needed for its limit");
    return it->second;
  }

  // Any hierarchy lists the same processes; pids (or memory) is always there.
  std::string procs_file() {
    for (const char* h : {"pids", "memory", "freezer", "cpu", "devices"})
      if (dirs_.count(h)) return dirs_[h] + "/cgroup.procs";
    return "";
  }

  Status freeze(const char* state) {
    std::string file = dirs_["freezer"] + "/freezer.state";
    TARMAC_RETURN_IF_ERROR(fs::write_file(file, state), "freeze");
    for (int i = 0; i < 1000; ++i) {
      auto now = fs::read_file(file);
      if (now && now->rfind(state, 0) == 0) return {};
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return Error("freeze " + file + ": did not reach " + state);
  }

  std::map<std::string, std::string> dirs_;
};

class CgroupV1Driver final : public CgroupDriver {
 public:
  CgroupV1Driver(std::string root, std::vector<std::string> hierarchies)
      : root_(std::move(root)), hierarchies_(std::move(hierarchies)) {}
  std::string version() const override { return "v1"; }

  Result<CgroupPtr> create(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "create");
    std::map<std::string, std::string> dirs;
    for (const std::string& h : hierarchies_) {
      std::string dir = root_ + "/" + h + "/" + name;
      TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir), "cgroup " + name);
      dirs[h] = dir;
    }
    return CgroupPtr(std::make_unique<CgroupV1>(std::move(dirs)));
  }

  Result<CgroupPtr> open(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "open");
    std::map<std::string, std::string> dirs;
    for (const std::string& h : hierarchies_) {
      std::string dir = root_ + "/" + h + "/" + name;
      if (fs::exists(dir)) dirs[h] = dir;
    }
    if (dirs.empty()) return Error("cgroup " + name + " does not exist under " + root_, ENOENT);
    return CgroupPtr(std::make_unique<CgroupV1>(std::move(dirs)));
  }

 private:
  std::string root_;
  std::vector<std::string> hierarchies_;
};

}  // namespace

Result<CgroupDriverPtr> make_cgroup_v1_driver(const std::string& root) {
  std::vector<std::string> found;
  for (const char* h : kHierarchies)
    if (fs::exists(root + "/" + h + "/cgroup.procs")) found.push_back(h);
  if (found.empty()) return Error("cgroup v1 at " + root + ": no controller hierarchy found");
  return CgroupDriverPtr(std::make_unique<CgroupV1Driver>(root, std::move(found)));
}

}  // namespace tarmac::runtime
