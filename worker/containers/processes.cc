// The process half of the container manager: run by way of a shim, and what is known of a
// process afterwards (from its directory, so it holds across worker restarts).
#include <sys/stat.h>

#include <cerrno>

#include "common/fs.h"
#include "common/uuid.h"
#include "worker/containers/manager.h"
#include "worker/containers/shim_client.h"
#include "worker/containers/user.h"
#include "worker/runtime/state_store.h"
#include "worker/shim/output_log.h"

namespace tarmac::containers {
namespace {

namespace v1 = worker::v1;

constexpr const char* kPidFile = "pid";
constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace

Result<StartedProcess> ContainerManager::run(const std::string& handle,
                                             const v1::ProcessSpec& spec) {
  v1::Container c;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(handle);
    if (it == entries_.end() || !it->second.ready)
      return Error("run: container \"" + handle + "\" not found", ENOENT);
    c = it->second.container;
  }
  std::string id = spec.id().empty() ? new_uuid() : spec.id();
  auto fail = [&](Error e) { return std::move(e).wrap("run in container " + handle); };
  if (auto s = runtime::validate_container_id(id); !s.ok())
    return fail(Error("process.id: " + s.error().message()));
  if (spec.path().empty()) return fail(Error("process.path: expected the executable"));
  auto rootfs = volumes_.get(c.rootfs_volume());
  if (!rootfs) return fail(std::move(rootfs).error().wrap("rootfs volume"));
  const std::string& user = spec.user().empty() ? c.spec().user() : spec.user();
  auto resolved = resolve_user(rootfs->path, user);
  if (!resolved) return fail(std::move(resolved).error().wrap("process"));

  shim::ShimRequest req;
  req.container = handle;
  req.runtime = options_.runtime;
  req.process.args.push_back(spec.path());
  req.process.args.insert(req.process.args.end(), spec.args().begin(), spec.args().end());
  req.process.env.assign(c.spec().env().begin(), c.spec().env().end());
  req.process.env.insert(req.process.env.end(), spec.env().begin(), spec.env().end());
  bool has_path = false;
  for (const std::string& kv : req.process.env) has_path |= kv.rfind("PATH=", 0) == 0;
  if (!has_path) req.process.env.push_back(kDefaultPath);
  req.process.cwd = !spec.dir().empty()       ? spec.dir()
                    : !c.spec().dir().empty() ? c.spec().dir()
                                              : "/";
  req.process.uid = resolved->uid;
  req.process.gid = resolved->gid;
  if (spec.has_tty()) {
    req.tty = true;
    req.rows = static_cast<uint16_t>(std::min<uint32_t>(spec.tty().rows() ?: 24, 0xffff));
    req.columns = static_cast<uint16_t>(std::min<uint32_t>(spec.tty().columns() ?: 80, 0xffff));
  }
  req.retain_bytes = options_.output_retain_bytes;

  std::string dir = dir_of(handle) + "/processes/" + id;
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return fail(Error("process.id: \"" + id + "\" already exists in this container", EEXIST));
    return fail(sys_error("mkdir " + dir));
  }
  req.output_dir = output_dir_of(handle) + "/" + id;
  auto started = [&]() -> Result<pid_t> {
    TARMAC_TRY(fs::make_dirs(req.output_dir, 0700));
    TARMAC_TRY(
        fs::write_file_atomic(dir + "/" + shim::kRequestFile, shim::to_json(req), 0600, false));
    return spawner_->spawn(dir);
  }();
  if (!started) {
    (void)fs::remove_all(dir);
    (void)fs::remove_all(req.output_dir);
    return fail(std::move(started).error());
  }
  (void)fs::write_file_atomic(dir + "/" + kPidFile, std::to_string(*started), 0600, false);
  return StartedProcess{id, *started, dir, req.output_dir};
}

Result<std::string> ContainerManager::process_dir(const std::string& handle,
                                                  const std::string& process_id) const {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(handle);
    if (it == entries_.end() || !it->second.ready)
      return Error("container \"" + handle + "\" not found", ENOENT);
  }
  if (!runtime::validate_container_id(process_id).ok())
    return Error("process \"" + process_id + "\" not found in container " + handle, ENOENT);
  std::string dir = dir_of(handle) + "/processes/" + process_id;
  if (!fs::exists(dir + "/" + shim::kRequestFile))
    return Error("process \"" + process_id + "\" not found in container " + handle, ENOENT);
  return dir;
}

std::string ContainerManager::output_dir(const std::string& handle,
                                         const std::string& process_id) const {
  // A process started by a worker that kept output in the process's directory (before an
  // upgrade that kept its containers running) still has it there.
  std::string own = output_dir_of(handle) + "/" + process_id;
  std::string in_process_dir = dir_of(handle) + "/processes/" + process_id;
  if (!fs::exists(own) && fs::exists(in_process_dir + "/" + shim::kOutputFile))
    return in_process_dir;
  return own;
}

Result<v1::ProcessInfo> ContainerManager::process_info(const std::string& handle,
                                                       const std::string& process_id) const {
  auto dir = process_dir(handle, process_id);
  if (!dir) return std::move(dir).error();
  v1::ProcessInfo info;
  info.set_id(process_id);
  if (auto pid = fs::read_file(*dir + "/" + kPidFile); pid) info.set_pid(std::atoi(pid->c_str()));
  if (auto req = fs::read_file(*dir + "/" + shim::kRequestFile); req) {
    if (auto parsed = shim::parse_request(*req); parsed) info.set_tty(parsed->tty);
  }
  auto exit = fs::read_file(*dir + "/" + shim::kExitFile);
  if (!exit) {
    info.set_running(true);
    return info;
  }
  auto st = runtime::parse_exit_record(*exit);
  if (!st) return std::move(st).error().wrap("process " + process_id);
  info.set_running(false);
  info.set_exit_status(st->shell_code());
  return info;
}

}  // namespace tarmac::containers
