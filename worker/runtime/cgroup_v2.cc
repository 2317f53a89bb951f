// cgroup v2: one directory in the unified hierarchy per container.
#include <cerrno>
#include <sstream>

#include "common/fs.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/cgroup_common.h"

namespace tarmac::runtime {
namespace {

// Garden's shares (2..262144) onto cgroup v2's weight (1..10000), as runc and crun map them.
uint64_t shares_to_weight(uint64_t shares) {
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

class CgroupV2 final : public Cgroup {
 public:
  explicit CgroupV2(std::string dir) : dir_(std::move(dir)) {}

  Status apply(const CgroupLimits& l) override {
    // Devices need a BPF program on v2; the private /dev the runtime builds holds only the
    // standard nodes and the container has no CAP_MKNOD, so restrict_devices is met there.
    if (l.memory_bytes) {
      TARMAC_RETURN_IF_ERROR(write("memory.max", std::to_string(*l.memory_bytes)), "memory");
      if (fs::exists(dir_ + "/memory.swap.max"))
        TARMAC_RETURN_IF_ERROR(write("memory.swap.max", "0"), "memory");
    }
    if (l.pids_max) TARMAC_RETURN_IF_ERROR(write("pids.max", std::to_string(*l.pids_max)), "pids");
    if (l.cpu_shares)
      TARMAC_RETURN_IF_ERROR(write("cpu.weight", std::to_string(shares_to_weight(*l.cpu_shares))),
                             "cpu");
    return {};
  }

  Status add_process(pid_t pid) override { return write("cgroup.procs", std::to_string(pid)); }

  Result<std::vector<pid_t>> processes() override { return read_pids(dir_ + "/cgroup.procs"); }

  Result<uint64_t> oom_kills() override {
    if (!fs::exists(dir_ + "/memory.events")) return uint64_t{0};
    return read_keyed(dir_ + "/memory.events", "oom_kill");
  }

  Status kill_all() override {
    if (!fs::exists(dir_)) return {};
    if (fs::exists(dir_ + "/cgroup.kill"))
      TARMAC_RETURN_IF_ERROR(write("cgroup.kill", "1"), "kill");
    return kill_until_empty(dir_ + "/cgroup.procs", std::chrono::seconds(5));
  }

  Status destroy() override { return remove_cgroup_dir(dir_); }
  std::vector<std::string> paths() const override { return {dir_}; }

 private:
  Status write(const std::string& file, const std::string& value) {
    return fs::write_file(dir_ + "/" + file, value);
  }
  std::string dir_;
};

class CgroupV2Driver final : public CgroupDriver {
 public:
  explicit CgroupV2Driver(std::string root) : root_(std::move(root)) {}
  std::string version() const override { return "v2"; }

  Result<CgroupPtr> create(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "create");
    // Enable the controllers from the root down so the leaf gets its knobs.
    std::string dir = root_;
    std::istringstream parts(name);
    std::string part;
    while (std::getline(parts, part, '/')) {
      if (part.empty()) continue;
      TARMAC_RETURN_IF_ERROR(enable_controllers(dir), "cgroup " + name);
      dir += "/" + part;
      TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir), "cgroup " + name);
    }
    return CgroupPtr(std::make_unique<CgroupV2>(dir));
  }

  Result<CgroupPtr> open(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "open");
    std::string dir = root_ + "/" + name;
    if (!fs::exists(dir)) return Error("cgroup " + dir + " does not exist", ENOENT);
    return CgroupPtr(std::make_unique<CgroupV2>(dir));
  }

 private:
  Status enable_controllers(const std::string& dir) {
    auto available = fs::read_file(dir + "/cgroup.controllers");
    if (!available) return std::move(available).error();
    auto enabled = fs::read_file(dir + "/cgroup.subtree_control");
    std::string want;
    for (const char* c : {"cpu", "memory", "pids"}) {
      bool have = (" " + *available + " ").find(std::string(" ") + c) != std::string::npos;
      bool on = enabled && (" " + *enabled + " ").find(std::string(" ") + c) != std::string::npos;
      if (have && !on) want += std::string(want.empty() ? "" : " ") + "+" + c;
    }
    if (want.empty()) return {};
    return fs::write_file(dir + "/cgroup.subtree_control", want);
  }
  std::string root_;
};

}  // namespace

Result<CgroupDriverPtr> make_cgroup_v2_driver(const std::string& root) {
  if (!fs::exists(root + "/cgroup.controllers"))
    return Error("cgroup v2 at " + root + ": no cgroup.controllers");
  return CgroupDriverPtr(std::make_unique<CgroupV2Driver>(root));
}

}  // namespace tarmac::runtime
