// cgroup v2: one directory in the unified hierarchy per container.
#include <sys/stat.h>

#include <cerrno>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "worker/runtime/cgroup.h"
#include "worker/runtime/cgroup_common.h"

namespace tarmac::runtime {
namespace {

using Controllers = std::set<std::string>;

// What the limits need, in the order written to cgroup.subtree_control.
constexpr const char* kControllers[] = {"memory", "pids", "cpu"};

// The names in a cgroup.controllers or cgroup.subtree_control file. The kernel shows
// "memory pids"; a plain file standing in for it holds what was written, "+memory +pids".
Result<Controllers> read_controllers(const std::string& file) {
  auto text = fs::read_file(file);
  if (!text) return std::move(text).error();
  Controllers out;
  std::istringstream in(*text);
  std::string word;
  while (in >> word) out.insert(word[0] == '+' ? word.substr(1) : word);
  return out;
}

// Garden's shares (2..262144) onto cgroup v2's weight (1..10000), as runc and crun map them.
// Out-of-range shares are clamped as the v1 kernel clamps cpu.shares.
uint64_t shares_to_weight(uint64_t shares) {
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

class CgroupV2 final : public Cgroup {
 public:
  explicit CgroupV2(std::string dir) : dir_(std::move(dir)) {}

  // restrict_devices is not enforced here: v2 filters devices only through a BPF program.
  // The private /dev the runtime builds holds only the standard nodes, and the container
  // lacks CAP_MKNOD to make others, which is what meets it on v2.
  Status apply(const CgroupLimits& l) override {
    if (!l.memory_bytes && !l.pids_max && !l.cpu_shares) return {};
    // A cgroup may use what its parent enabled (the kernel's cgroup.controllers says the same).
    std::string parent = dir_.substr(0, dir_.rfind('/'));
    auto enabled = read_controllers(parent + "/cgroup.subtree_control");
    if (!enabled) return std::move(enabled).error().wrap("cgroup limits");
    auto need = [&](const std::string& controller) -> Status {
      if (enabled->count(controller)) return {};
      return Error("cgroup " + dir_ + ": the " + controller + " controller is not enabled in " +
                       parent + "/cgroup.subtree_control",
                   ENOENT);
    };
    if (l.memory_bytes) {
      TARMAC_RETURN_IF_ERROR(need("memory"), "memory limit");
      TARMAC_RETURN_IF_ERROR(write("memory.max", std::to_string(*l.memory_bytes)), "memory limit");
      // Swap off. A kernel without swap accounting (swapaccount=0) has no memory.swap.max and
      // no way to limit swap, like v1 without memory.memsw.*: the memory limit alone applies.
      auto swap = write("memory.swap.max", "0");
      if (!swap && fs::exists(dir_ + "/memory.swap.max"))
        return std::move(swap).error().wrap("memory limit");
    }
    if (l.pids_max) {
      TARMAC_RETURN_IF_ERROR(need("pids"), "pids limit");
      TARMAC_RETURN_IF_ERROR(write("pids.max", std::to_string(*l.pids_max)), "pids limit");
    }
    if (l.cpu_shares) {
      TARMAC_RETURN_IF_ERROR(need("cpu"), "cpu shares");
      TARMAC_RETURN_IF_ERROR(write("cpu.weight", std::to_string(shares_to_weight(*l.cpu_shares))),
                             "cpu shares");
    }
    return {};
  }

  Status add_process(pid_t pid) override { return write("cgroup.procs", std::to_string(pid)); }

  Result<std::vector<pid_t>> processes() override { return read_pids(dir_ + "/cgroup.procs"); }

  Result<uint64_t> oom_kills() override {
    // Without the memory controller nothing here is ever OOM-killed by its limit.
    if (!fs::exists(dir_ + "/memory.events")) return uint64_t{0};
    return read_keyed(dir_ + "/memory.events", "oom_kill");
  }

  Status kill_all() override {
    if (!fs::exists(dir_)) return {};
    // cgroup.kill (Linux 5.14) kills atomically, forks included; the loop below then only
    // waits for the cgroup to empty. Older kernels get the loop alone.
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
    // Only the root's cgroup.controllers is read: below it, a cgroup may use what its
    // parent enabled, which is known here because this loop enabled it.
    auto available = read_controllers(root_ + "/cgroup.controllers");
    if (!available) return std::move(available).error().wrap("create cgroup " + name);
    std::string dir = root_;
    std::istringstream parts(name);
    std::string part;
    while (std::getline(parts, part, '/')) {
      auto enabled = enable_controllers(dir, *available);
      if (!enabled) return std::move(enabled).error().wrap("create cgroup " + name);
      available = std::move(*enabled);
      dir += "/" + part;
      TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir), "create cgroup " + name);
    }
    return CgroupPtr(std::make_unique<CgroupV2>(dir));
  }

  Result<CgroupPtr> open(const std::string& name) override {
    TARMAC_RETURN_IF_ERROR(check_cgroup_name(name), "open");
    std::string dir = root_ + "/" + name;
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return sys_error("open cgroup " + dir);
    if (!S_ISDIR(st.st_mode)) return Error("open cgroup " + dir + ": not a directory", ENOTDIR);
    return CgroupPtr(std::make_unique<CgroupV2>(dir));
  }

 private:
  // Turns on, in `dir`'s cgroup.subtree_control, those of our controllers that are available
  // and not yet on. Returns what is on afterwards. A controller the host lacks is left out:
  // it is an error only when a limit needs it (apply says which).
  Result<Controllers> enable_controllers(const std::string& dir, const Controllers& available) {
    std::string file = dir + "/cgroup.subtree_control";
    auto enabled = read_controllers(file);
    // A directory of a fake tree has no file yet; a kernel's always has one.
    if (!enabled && enabled.error().errnum() != ENOENT) return std::move(enabled).error();
    Controllers on = enabled ? std::move(*enabled) : Controllers{};
    std::string add;
    for (const char* c : kControllers) {
      if (!available.count(c) || on.count(c)) continue;
      add += std::string(add.empty() ? "+" : " +") + c;
      on.insert(c);
    }
    if (!add.empty()) TARMAC_RETURN_IF_ERROR(fs::write_file(file, add), "enable controllers");
    return on;
  }

  std::string root_;
};

}  // namespace

Result<CgroupDriverPtr> make_cgroup_v2_driver(const std::string& root) {
  if (!fs::exists(root + "/cgroup.controllers"))
    return Error("cgroup v2 at " + root + ": no " + root + "/cgroup.controllers", ENOENT);
  return CgroupDriverPtr(std::make_unique<CgroupV2Driver>(root));
}

}  // namespace tarmac::runtime
