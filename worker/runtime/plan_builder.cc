#include "worker/runtime/plan_builder.h"

#include "common/mountinfo.h"
#include "worker/runtime/runtime.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>

namespace tarmac::runtime {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool is_clean_absolute(const std::string& p) {
  if (p.empty() || p[0] != '/') return false;
  size_t start = 1;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string part = p.substr(start, end - start);
    if (part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

void add_fs(ChildPlan& plan, const char* source, std::string target, const char* fstype,
            unsigned long flags, std::string data = "") {
  ChildMount m;
  m.kind = ChildMount::Kind::kFilesystem;
  m.source = source;
  m.target = plan.keep(std::move(target));
  m.fstype = fstype;
  m.flags = flags;
  m.data = data.empty() ? nullptr : plan.keep(std::move(data));
  plan.mounts.push_back(m);
}

void add_bind(ChildPlan& plan, std::string source, std::string target, bool is_dir,
              unsigned long flags, unsigned long remount, bool shared = false) {
  ChildMount m;
  m.shared = shared;
  m.kind = ChildMount::Kind::kBind;
  m.source = plan.keep(std::move(source));
  m.target = plan.keep(std::move(target));
  m.flags = flags;
  m.target_is_dir = is_dir;
  m.remount_flags = remount;
  plan.mounts.push_back(m);
}

void add_symlink(ChildPlan& plan, const char* link_target, const char* path) {
  ChildMount m;
  m.kind = ChildMount::Kind::kSymlink;
  m.source = link_target;
  m.target = path;
  plan.mounts.push_back(m);
}

void add_standard_mounts(ChildPlan& plan, const ContainerSpec& spec) {
  add_fs(plan, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  add_fs(plan, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  for (const char* dev : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string path = std::string("/dev/") + dev;
    add_bind(plan, path, path, false, MS_BIND, 0);
  }
  // gid 5 (tty) exists only where the user namespace maps it.
  bool tty_gid = !spec.namespaces.user;
  for (const IdMap& m : spec.gid_map)
    if (m.container_id <= 5 && 5 < m.container_id + m.size) tty_gid = true;
  add_fs(plan, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         std::string("newinstance,ptmxmode=0666,mode=0620") + (tty_gid ? ",gid=5" : ""));
  add_symlink(plan, "pts/ptmx", "/dev/ptmx");
  add_symlink(plan, "/proc/self/fd", "/dev/fd");
  add_symlink(plan, "/proc/self/fd/0", "/dev/stdin");
  add_symlink(plan, "/proc/self/fd/1", "/dev/stdout");
  add_symlink(plan, "/proc/self/fd/2", "/dev/stderr");
  add_fs(plan, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
         "mode=1777,size=65536k");
  add_fs(plan, "mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC);
  // A user namespace may mount sysfs only with a network namespace of its own.
  if (spec.namespaces.user && !spec.namespaces.network) {
    add_bind(plan, "/sys", "/sys", true, MS_BIND | MS_REC,
             MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  } else {
    add_fs(plan, "sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }
}

Status add_spec_mounts(ChildPlan& plan, const ContainerSpec& spec) {
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const Mount& m = spec.mounts[i];
    std::string field = "mounts[" + std::to_string(i) + "]";
    if (!is_clean_absolute(m.destination))
      return Error(field + ".destination: expected a clean absolute path, got \"" + m.destination +
                   "\"");
    unsigned long flags = (m.nosuid ? MS_NOSUID : 0) | (m.nodev ? MS_NODEV : 0) |
                          (m.noexec ? MS_NOEXEC : 0) | (m.readonly ? MS_RDONLY : 0);
    if (m.type == Mount::Type::kTmpfs) {
      add_fs(plan, "tmpfs", m.destination, "tmpfs", flags, m.data);
      continue;
    }
    if (m.source.empty() || m.source[0] != '/')
      return Error(field + ".source: expected an absolute host path, got \"" + m.source + "\"");
    struct stat st;
    if (::stat(m.source.c_str(), &st) != 0) return sys_error(field + ".source: stat " + m.source);
    if (m.shared) {
      // Without a peer group there is nothing to share: say so rather than mount it private.
      auto point = find_mount_point(m.source);
      if (!point) return std::move(point).error().wrap(field + ".shared");
      if (!*point || !(*point)->shared)
        return Error(field + ".shared: " + m.source +
                     " is not a shared mount point (bind it onto itself and make it shared)");
    }
    add_bind(plan, m.source, m.destination, S_ISDIR(st.st_mode),
             MS_BIND | (m.recursive ? MS_REC : 0), flags, m.shared);
  }
  return {};
}

std::string path_of(const std::vector<std::string>& env) {
  for (const std::string& kv : env)
    if (kv.rfind("PATH=", 0) == 0) return kv.substr(5);
  return kDefaultPath;
}

}  // namespace

Status validate_container_id(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.size() > 200)
    return Error("container id \"" + id + "\": expected 1 to 200 of [A-Za-z0-9_.-]");
  for (char c : id)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return Error("container id \"" + id + "\": expected only [A-Za-z0-9_.-]");
  return {};
}

Status plan_process(ChildPlan& plan, const Process& process,
                    const std::vector<std::string>& capabilities, bool privileged, bool use_seccomp,
                    const SeccompProgram& seccomp) {
  if (process.args.empty() || process.args[0].empty())
    return Error("args: expected at least the executable");
  const std::string& exe = process.args[0];
  if (exe.find('/') != std::string::npos) {
    plan.exec_candidates.push_back(plan.keep(exe));
  } else {
    std::string path = path_of(process.env);
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(start, end - start);
      if (!dir.empty()) plan.exec_candidates.push_back(plan.keep(dir + "/" + exe));
      start = end + 1;
    }
  }
  for (const std::string& a : process.args) plan.argv.push_back(const_cast<char*>(plan.keep(a)));
  plan.argv.push_back(nullptr);
  for (const std::string& e : process.env) plan.envp.push_back(const_cast<char*>(plan.keep(e)));
  plan.envp.push_back(nullptr);
  plan.cwd = plan.keep(process.cwd.empty() ? "/" : process.cwd);
  plan.uid = process.uid;
  plan.gid = process.gid;
  plan.groups = process.additional_gids;

  if (privileged) {
    plan.caps = privileged_capabilities();
  } else {
    auto caps = capabilities_from_names(capabilities);
    if (!caps) return std::move(caps).error().wrap("capabilities");
    plan.caps = *caps;
  }
  plan.privileged = privileged;
  plan.use_seccomp = use_seccomp && !privileged;
  if (plan.use_seccomp) plan.seccomp = seccomp;
  return {};
}

Result<ChildPlan> build_child_plan(const ContainerSpec& spec, const SeccompProgram& seccomp) {
  ChildPlan plan;
  if (spec.rootfs.empty() || spec.rootfs[0] != '/')
    return Error("rootfs: expected an absolute directory, got \"" + spec.rootfs + "\"");
  struct stat st;
  if (::stat(spec.rootfs.c_str(), &st) != 0) return sys_error("rootfs: stat " + spec.rootfs);
  if (!S_ISDIR(st.st_mode)) return Error("rootfs: " + spec.rootfs + " is not a directory");
  if (spec.namespaces.user && (spec.uid_map.empty() || spec.gid_map.empty()))
    return Error("uid_map/gid_map: a user namespace needs both");

  plan.rootfs = plan.keep(spec.rootfs);
  plan.rootfs_readonly = spec.rootfs_readonly;
  plan.new_pid = spec.namespaces.pid;
  plan.new_net = spec.namespaces.network;
  plan.new_user = spec.namespaces.user;
  plan.privileged = spec.privileged;
  plan.hostname = spec.hostname.empty() ? nullptr : plan.keep(spec.hostname);

  if (spec.standard_mounts) add_standard_mounts(plan, spec);
  TARMAC_RETURN_IF_ERROR(add_spec_mounts(plan, spec), "container " + spec.id);
  if (!spec.privileged) {
    for (const std::string& p : spec.masked_paths) plan.masked_paths.push_back(plan.keep(p));
    for (const std::string& p : spec.readonly_paths) plan.readonly_paths.push_back(plan.keep(p));
  }

  plan.has_main = spec.main_process;
  if (spec.main_process)
    TARMAC_RETURN_IF_ERROR(
        plan_process(plan, spec.process, spec.capabilities, spec.privileged, spec.seccomp, seccomp),
        "process");
  plan.rlimits = spec.rlimits;
  return plan;
}

}  // namespace tarmac::runtime
