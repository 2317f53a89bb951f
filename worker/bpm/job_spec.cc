#include "worker/bpm/job_spec.h"

#include <glob.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>

#include "common/fs.h"
#include "worker/bpm/shared_volume.h"

namespace tarmac::bpm {
namespace {

using runtime::Mount;

Mount bind(std::string source, std::string destination, bool writable, bool exec) {
  Mount m;
  m.type = Mount::Type::kBind;
  m.source = std::move(source);
  m.destination = std::move(destination);
  m.readonly = !writable;
  m.noexec = !exec;
  m.nosuid = true;
  m.nodev = true;
  return m;
}

size_t depth(const std::string& p) {
  return static_cast<size_t>(std::count(p.begin(), p.end(), '/'));
}

// `expand_globs`: unsafe.unrestricted_volumes, where bpm ignores `shared`.
Status add_volumes(const std::vector<Volume>& volumes, bool expand_globs,
                   std::vector<Mount>& mounts) {
  for (const Volume& v : volumes) {
    std::vector<std::string> matches;
    if (expand_globs) {
      glob_t g = {};
      int rc = ::glob(v.path.c_str(), GLOB_NOSORT, nullptr, &g);
      if (rc == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
      ::globfree(&g);
    } else {
      matches.push_back(v.path);
    }
    for (const std::string& path : matches) {
      // bpm mounts volumes at their own path (its identity mounts).
      if (!fs::exists(path)) return Error("volume " + path + " does not exist");
      mounts.push_back(bind(path, path, v.writable, v.allow_executions));
      mounts.back().shared = v.shared && !expand_globs;
    }
  }
  return {};
}

}  // namespace

std::vector<std::string> job_environment(const BoshPaths& paths, const JobProcess& jp) {
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : jp.config.env) env[k] = v;
  for (const std::string& kv : jp.extra_env) {
    size_t eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  env.try_emplace("TMPDIR", paths.inside(paths.tmp_dir(jp.job)));
  env.try_emplace("LANG", "en_US.UTF-8");
  env.try_emplace("PATH", "/var/vcap/jobs/" + jp.job +
                              "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  env.try_emplace("HOME", paths.inside(paths.data_dir(jp.job)));
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

Status create_job_directories(const BoshPaths& paths, const JobProcess& jp, const VcapUser& vcap) {
  std::vector<std::string> dirs = {paths.log_dir(jp.job), paths.tmp_dir(jp.job)};
  if (jp.config.ephemeral_disk) dirs.push_back(paths.data_dir(jp.job));
  if (jp.config.persistent_disk) {
    std::string store = paths.store_dir(jp.job);
    if (!fs::exists(store.substr(0, store.rfind('/'))))
      return Error("persistent_disk: requested, but " + store.substr(0, store.rfind('/')) +
                   " does not exist (no persistent disk attached)");
    dirs.push_back(store);
  }
  for (const Volume& v : jp.config.additional_volumes)
    if (!v.mount_only) dirs.push_back(v.path);
  // As bpm: each of these belongs to vcap, even when it was already there (data/JOB may
  // have been made as the parent of data/JOB/tmp).
  for (const std::string& d : dirs) {
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(d, 0700), "create job directories");
    if (::chown(d.c_str(), vcap.uid, vcap.gid) != 0)
      return sys_error("create job directories: chown " + d);
  }
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(paths.pid_dir(jp.job), 0700), "create pid dir");
  for (const Volume& v : jp.config.additional_volumes)
    if (v.shared) TARMAC_RETURN_IF_ERROR(make_volume_shared(paths, v.path), "additional_volumes");
  return {};
}

Result<runtime::ContainerSpec> build_job_spec(const BoshPaths& paths, const JobProcess& jp,
                                              const VcapUser& vcap) {
  const ProcessConfig& pc = jp.config;
  runtime::ContainerSpec spec;
  spec.id = container_id(jp.job, pc.name);
  spec.rootfs = paths.rootfs_dir(jp.job, pc.name);
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(spec.rootfs, 0755), "rootfs");
  spec.rootfs_readonly = true;

  std::vector<Mount> mounts;
  for (const char* sys : {"/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr"})
    if (fs::exists(sys)) mounts.push_back(bind(sys, sys, false, true));
  std::string tmp = paths.tmp_dir(jp.job);
  mounts.push_back(bind(tmp, "/tmp", true, false));
  mounts.push_back(bind(tmp, "/var/tmp", true, false));
  mounts.push_back(bind(tmp, paths.inside(tmp), true, false));
  for (const std::string& dir :
       {paths.data_packages_dir(), paths.packages_dir(), paths.job_dir(jp.job)})
    if (fs::exists(dir)) mounts.push_back(bind(dir, paths.inside(dir), false, true));
  mounts.push_back(bind(paths.log_dir(jp.job), paths.inside(paths.log_dir(jp.job)), true, false));
  if (pc.ephemeral_disk)
    mounts.push_back(
        bind(paths.data_dir(jp.job), paths.inside(paths.data_dir(jp.job)), true, false));
  if (pc.persistent_disk)
    mounts.push_back(
        bind(paths.store_dir(jp.job), paths.inside(paths.store_dir(jp.job)), true, false));
  TARMAC_RETURN_IF_ERROR(add_volumes(pc.additional_volumes, false, mounts), "additional_volumes");
  TARMAC_RETURN_IF_ERROR(add_volumes(pc.unsafe.unrestricted_volumes, true, mounts),
                         "unsafe.unrestricted_volumes");
  // Shallow first so a deeper mount is never hidden; the first of two equal destinations wins.
  std::stable_sort(mounts.begin(), mounts.end(), [](const Mount& a, const Mount& b) {
    return depth(a.destination) < depth(b.destination);
  });
  for (const Mount& m : mounts) {
    bool seen = std::any_of(spec.mounts.begin(), spec.mounts.end(),
                            [&](const Mount& o) { return o.destination == m.destination; });
    if (!seen) spec.mounts.push_back(m);
  }

  spec.masked_paths = {"/etc/sv",           "/proc/kcore",      "/proc/latency_stats",
                       "/proc/sched_debug", "/proc/timer_list", "/proc/timer_stats",
                       "/sys/firmware"};
  spec.readonly_paths = {"/proc/asound", "/proc/bus", "/proc/fs",
                         "/proc/irq",    "/proc/sys", "/proc/sysrq-trigger"};
  spec.namespaces.pid = !pc.unsafe.host_pid_namespace;
  spec.namespaces.network = false;  // bpm shares the host's network on purpose
  spec.privileged = pc.unsafe.privileged;
  spec.capabilities = pc.capabilities;

  spec.process.args.push_back(pc.executable);
  spec.process.args.insert(spec.process.args.end(), pc.args.begin(), pc.args.end());
  spec.process.env = job_environment(paths, jp);
  spec.process.cwd = pc.workdir.empty() ? "/var/vcap/jobs/" + jp.job : pc.workdir;
  if (!pc.unsafe.privileged) {
    spec.process.uid = vcap.uid;
    spec.process.gid = vcap.gid;
  }

  if (pc.limits.open_files)
    spec.rlimits.push_back({RLIMIT_NOFILE, *pc.limits.open_files, *pc.limits.open_files});
  uint64_t core = pc.limits.core_file_size.value_or(0);
  spec.rlimits.push_back({RLIMIT_CORE, core, core});
  if (pc.limits.memory) spec.limits.memory_bytes = static_cast<int64_t>(*pc.limits.memory);
  if (pc.limits.processes) spec.limits.pids_max = static_cast<int64_t>(*pc.limits.processes);
  spec.stop_signal = pc.shutdown_signal;
  return spec;
}

}  // namespace tarmac::bpm
