// cgroup v1: one directory per controller hierarchy per container.
#include <cerrno>
#include <csignal>
#include <map>
#include <thread>

#include "common/fs.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/cgroup_common.h"

namespace tarmac::runtime {
namespace {

// The hierarchies used, each under the first of its directory names that the host mounts
// ("cpu" is often only a symlink to "cpu,cpuacct").
struct Hierarchy {
  const char* name;
  std::vector<const char*> dirs;
};
const Hierarchy kHierarchies[] = {{"memory", {"memory"}},
                                  {"pids", {"pids"}},
                                  {"cpu", {"cpu", "cpu,cpuacct", "cpuacct,cpu"}},
                                  {"freezer", {"freezer"}},
                                  {"devices", {"devices"}}};

// The standard nodes of the private /dev (null, zero, full, random, urandom, tty, ptmx) and
// the pty slaves.
const std::vector<const char*> kAllowedDevices = {"c 1:3 rwm", "c 1:5 rwm",  "c 1:7 rwm",
                                                  "c 1:8 rwm", "c 1:9 rwm",  "c 5:0 rwm",
                                                  "c 5:2 rwm", "c 136:* rwm"};

constexpr auto kKillLimit = std::chrono::seconds(5);

class CgroupV1 final : public Cgroup {
 public:
  // `dirs`: hierarchy name to this cgroup's directory in it; `root` and `name` for errors.
  CgroupV1(std::map<std::string, std::string> dirs, std::string root, std::string name)
      : dirs_(std::move(dirs)), root_(std::move(root)), name_(std::move(name)) {}

  Status apply(const CgroupLimits& l) override {
    if (l.memory_bytes) TARMAC_RETURN_IF_ERROR(set_memory(*l.memory_bytes), "memory limit");
    if (l.pids_max) {
      auto dir = need("pids");
      if (!dir) return std::move(dir).error().wrap("pids limit");
      TARMAC_RETURN_IF_ERROR(fs::write_file(*dir + "/pids.max", std::to_string(*l.pids_max)),
                             "pids limit");
    }
    if (l.cpu_shares) {
      auto dir = need("cpu");
      if (!dir) return std::move(dir).error().wrap("cpu shares");
      TARMAC_RETURN_IF_ERROR(fs::write_file(*dir + "/cpu.shares", std::to_string(*l.cpu_shares)),
                             "cpu shares");
    }
    // Without a devices hierarchy the private /dev alone restricts devices, as on v2.
    if (l.restrict_devices && dirs_.count("devices")) {
      const std::string& dir = dirs_["devices"];
      TARMAC_RETURN_IF_ERROR(fs::write_file(dir + "/devices.deny", "a"), "restrict devices");
      TARMAC_RETURN_IF_ERROR(write_each(dir + "/devices.allow", kAllowedDevices),
                             "restrict devices");
    }
    return {};
  }

  Status add_process(pid_t pid) override {
    for (const auto& [hierarchy, dir] : dirs_)
      TARMAC_RETURN_IF_ERROR(fs::write_file(dir + "/cgroup.procs", std::to_string(pid)),
                             "join " + hierarchy + " cgroup");
    return {};
  }

  Result<std::vector<pid_t>> processes() override { return read_pids(procs_file()); }

  Result<uint64_t> oom_kills() override {
    if (!dirs_.count("memory")) return uint64_t{0};
    // The oom_kill line is there from Linux 4.13.
    return read_keyed(dirs_["memory"] + "/memory.oom_control", "oom_kill");
  }

  Status kill_all() override {
    std::string procs = procs_file();
    if (!fs::exists(procs)) return {};
    bool freezer = dirs_.count("freezer") && fs::exists(dirs_["freezer"] + "/freezer.state");
    auto deadline = std::chrono::steady_clock::now() + kKillLimit;
    for (;;) {
      // The common case, on every destroy: nothing left, and no freeze to pay for.
      if (auto now = read_pids(procs); now && now->empty()) return {};
      // Frozen, nothing forks between our reading the pids and killing them; thawed, the
      // killed can die (a frozen task does not act on SIGKILL). A task stuck in the kernel
      // can keep the cgroup FREEZING: kill what is there anyway, and let the deadline decide.
      if (freezer) (void)set_freezer("FROZEN");
      auto pids = read_pids(procs);
      if (pids && !pids->empty() && std::chrono::steady_clock::now() <= deadline)
        for (pid_t p : *pids) ::kill(p, SIGKILL);
      if (freezer) TARMAC_RETURN_IF_ERROR(set_freezer("THAWED"), "kill");
      if (!pids) return std::move(pids).error().wrap("kill");
      if (pids->empty()) return {};
      if (std::chrono::steady_clock::now() > deadline) {
        return Error("kill cgroup " + name_ + ": still in " + procs +
                     " after SIGKILL:" + pid_list(*pids));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  Status destroy() override {
    Status first;
    for (const auto& [hierarchy, dir] : dirs_)
      if (auto s = remove_cgroup_dir(dir); !s && first)
        first = std::move(s).error().wrap("destroy");
    return first;
  }

  std::vector<std::string> paths() const override {
    std::vector<std::string> out;
    for (const auto& [hierarchy, dir] : dirs_) out.push_back(dir);
    return out;
  }

 private:
  Result<std::string> need(const std::string& hierarchy) {
    auto it = dirs_.find(hierarchy);
    if (it == dirs_.end())
      return Error("cgroup " + name_ + ": in no " + hierarchy + " hierarchy under " + root_ +
                       ", needed for its limit",
                   ENOENT);
    return it->second;
  }

  // The limit alone, then memory+swap to the same value: swap off. The kernel keeps
  // limit <= memsw limit at every step, so raising a limit must write memsw first.
  Status set_memory(int64_t bytes) {
    auto dir = need("memory");
    if (!dir) return std::move(dir).error();
    std::string v = std::to_string(bytes), limit = *dir + "/memory.limit_in_bytes",
                memsw = *dir + "/memory.memsw.limit_in_bytes";
    if (!fs::exists(memsw)) return fs::write_file(limit, v);
    auto first = fs::write_file(limit, v);
    if (!first && first.error().errnum() != EINVAL) return first;
    TARMAC_RETURN_IF_ERROR(fs::write_file(memsw, v), "swap off");
    return first ? Status{} : fs::write_file(limit, v);
  }

  // Writes FROZEN or THAWED and waits (up to about 200 ms) until the kernel reads it back.
  Status set_freezer(const char* state) {
    std::string file = dirs_["freezer"] + "/freezer.state";
    TARMAC_RETURN_IF_ERROR(fs::write_file(file, state), "freezer");
    for (int i = 0; i < 1000; ++i) {
      auto now = fs::read_file(file);
      if (now && now->rfind(state, 0) == 0) return {};
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return Error("freezer " + file + ": did not reach " + state, EBUSY);
  }

  // Every hierarchy lists the same processes.
  std::string procs_file() const { return dirs_.begin()->second + "/cgroup.procs"; }

  std::map<std::string, std::string> dirs_;
  std::string root_;
  std::string name_;
};

class CgroupV1Driver final : public CgroupDriver {
 public:
  CgroupV1Driver(std::string root, std::map<std::string, std::string> hierarchies)
      : root_(std::move(root)), hierarchies_(std::move(hierarchies)) {}

  std::string version() const override { return "v1"; }

  Result<CgroupPtr> create(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "create");
    std::map<std::string, std::string> dirs;
    for (const auto& [hierarchy, mount] : hierarchies_) {
      std::string dir = mount + "/" + name;
      TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir), "create cgroup " + name);
      dirs[hierarchy] = dir;
    }
    return CgroupPtr(std::make_unique<CgroupV1>(std::move(dirs), root_, name));
  }

  // A cgroup half-created (in some hierarchies only) still opens, so that it can be destroyed.
  Result<CgroupPtr> open(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "open");
    std::map<std::string, std::string> dirs;
    for (const auto& [hierarchy, mount] : hierarchies_)
      if (fs::exists(mount + "/" + name)) dirs[hierarchy] = mount + "/" + name;
    if (dirs.empty())
      return Error("open cgroup " + hierarchies_.begin()->second + "/" + name + ": does not exist",
                   ENOENT);
    return CgroupPtr(std::make_unique<CgroupV1>(std::move(dirs), root_, name));
  }

 private:
  std::string root_;
  std::map<std::string, std::string> hierarchies_;  // name to mount point
};

}  // namespace

Result<CgroupDriverPtr> make_cgroup_v1_driver(const std::string& root) {
  std::map<std::string, std::string> found;
  for (const Hierarchy& h : kHierarchies)
    for (const char* dir : h.dirs)
      if (!found.count(h.name) && fs::exists(root + "/" + dir + "/cgroup.procs"))
        found[h.name] = root + "/" + dir;
  if (found.empty())
    return Error("cgroup v1 at " + root + ": no memory, pids, cpu, freezer or devices hierarchy",
                 ENOENT);
  return CgroupDriverPtr(std::make_unique<CgroupV1Driver>(root, std::move(found)));
}

}  // namespace tarmac::runtime
