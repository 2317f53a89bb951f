#include "worker/containers/manager.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <thread>

#include "common/fs.h"
#include "common/scope_exit.h"
#include "common/uuid.h"
#include "worker/containers/shim_client.h"

namespace tarmac::containers {
namespace {

namespace v1 = worker::v1;

constexpr const char* kRecordFile = "container.json";
// Written before the root filesystem volume is made, so a crash after that still finds it.
constexpr const char* kRootfsFile = "rootfs-volume";

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error not_found(const std::string& handle) {
  return Error("container \"" + handle + "\" not found", ENOENT);
}

// Garden's capabilities for unprivileged containers: they hold only inside the container's
// user namespace, so a task running as root can still chown, bind low ports and so on.
const std::vector<std::string>& unprivileged_capabilities() {
  static const std::vector<std::string> caps = {
      "CHOWN",   "DAC_OVERRIDE",     "FOWNER",     "FSETID",     "KILL",
      "MKNOD",   "NET_RAW",          "SETGID",     "SETUID",     "SETFCAP",
      "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "AUDIT_WRITE"};
  return caps;
}

bool matches(const v1::Container& c, const std::map<std::string, std::string>& filter) {
  for (const auto& [k, v] : filter) {
    auto it = c.properties().find(k);
    if (it == c.properties().end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ContainerManager>> ContainerManager::open(ManagerOptions options,
                                                                 baggageclaim::Store& volumes) {
  if (options.dir.empty() || options.output_dir.empty())
    return Error("containers: both a state dir and an output dir are needed", EINVAL);
  for (const std::string& tree : {options.dir, options.output_dir})
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(trash_of(tree), 0700), "containers");
  auto rt = runtime::make_runtime(options.runtime);
  if (!rt) return std::move(rt).error().wrap("containers");
  std::unique_ptr<ContainerManager> m(
      new ContainerManager(std::move(options), volumes, std::move(*rt)));
  TARMAC_RETURN_IF_ERROR(m->recover(), "containers: recover");
  // Output directories are made spread over the disk's block groups, as volumes are (a
  // create that stopped between the mkdir and the rename left at most an empty one there).
  if (auto s = fs::remove_all(m->options_.output_dir + "/" + kSpread); !s.ok())
    return std::move(s).error().wrap("containers: clear what a create left");
  auto spreader =
      DirSpreader::open(m->options_.output_dir + "/" + kSpread, DirSpreader::kShards, 0700);
  if (!spreader) return std::move(spreader).error().wrap("containers");
  m->output_spreader_ = std::move(*spreader);
  m->remove_orphans();
  // What a worker that stopped midway had not removed.
  for (const std::string& tree : {m->options_.dir, m->options_.output_dir})
    m->remover_.sweep(trash_of(tree));
  return m;
}

void ContainerManager::remove_dir(const std::string& dir) {
  if (auto s = fs::remove_all(dir); !s.ok())
    spdlog::error("containers: remove {}: {}", dir, s.error().what());
}

Status ContainerManager::save(const v1::Container& c) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  auto st = google::protobuf::util::MessageToJsonString(c, &json, opts);
  if (!st.ok()) return Error("encode container " + c.handle() + ": " + std::string(st.message()));
  // Atomic but not fsynced: a container never outlives a reboot (its processes are gone), so
  // a record lost with the page cache only makes recovery destroy what was dead anyway.
  return fs::write_file_atomic(dir_of(c.handle()) + "/" + kRecordFile, json, 0600, false);
}

Status ContainerManager::recover() {
  auto names = fs::list_dir(options_.dir);
  if (!names) return std::move(names).error();
  for (const std::string& handle : *names) {
    if (handle == kTrash) continue;
    std::string dir = dir_of(handle);
    auto rootfs = fs::read_file(dir + "/" + kRootfsFile);
    std::string rootfs_volume = rootfs ? *rootfs : "";
    auto text = fs::read_file(dir + "/" + kRecordFile);
    if (!text) {
      spdlog::warn("container {}: its creation never finished; removing what was made", handle);
      if (auto s = remove_remains(handle, rootfs_volume); !s.ok())
        spdlog::error("container {}: {}", handle, s.error().what());
      continue;
    }
    v1::Container c;
    auto parsed = google::protobuf::util::JsonStringToMessage(*text, &c);
    std::string why;
    if (!parsed.ok()) {
      why = "unreadable " + std::string(kRecordFile) + ": " + std::string(parsed.message());
    } else if (auto found = runtime_->find(handle); !found) {
      why = found.error().what();
    } else if (auto polled = (*found)->poll(); !polled || polled->has_value()) {
      why = polled ? "its init has ended" : polled.error().what();
    }
    if (!why.empty()) {
      spdlog::warn("container {}: cannot be recovered ({}); destroying it", handle, why);
      if (auto s = remove_remains(handle, rootfs_volume); !s.ok())
        spdlog::error("container {}: {}", handle, s.error().what());
      continue;
    }
    entries_[handle] = Entry{c, true};
  }
  // Containers of the runtime that no record owns (a crash between the two).
  auto ids = runtime_->list();
  if (!ids) return std::move(ids).error();
  for (const std::string& id : *ids) {
    if (entries_.count(id)) continue;
    spdlog::warn("container {}: in the runtime but not known to the worker; destroying it", id);
    if (auto c = runtime_->find(id); c) (void)(*c)->destroy();
  }
  return {};
}

void ContainerManager::move_aside(const std::string& tree, const std::string& handle) {
  // Gone for every caller with one rename; its files are removed in the background.
  std::string dir = tree + "/" + handle;
  auto moved = remover_.take(dir, trash_of(tree), handle);
  if (moved.ok() || moved.error().errnum() == ENOENT) return;
  spdlog::warn("container {}: {}", handle, moved.error().what());
  if (auto s = fs::remove_all(dir); !s.ok())
    spdlog::error("container {}: remove {}: {}", handle, dir, s.error().what());
}

void ContainerManager::remove_orphans() {
  std::set<std::string> known;
  {
    std::lock_guard lock(mu_);
    for (const auto& [handle, e] : entries_) known.insert(handle);
  }
  if (auto names = fs::list_dir(options_.output_dir); names) {
    for (const std::string& name : *names) {
      if (name == kTrash || name == kSpread || known.count(name)) continue;
      spdlog::warn("container {}: output left by a container that is gone; removing it", name);
      move_aside(options_.output_dir, name);
    }
  }
  for (const baggageclaim::Volume& v : volumes_.list()) {
    auto owner = v.properties.find(kRootfsOwnerProperty);
    if (owner == v.properties.end() || known.count(owner->second)) continue;
    spdlog::warn("volume {}: root filesystem of container {}, which is gone; destroying it",
                 v.handle, owner->second);
    if (auto s = volumes_.destroy(v.handle); !s.ok() && s.error().errnum() != ENOENT)
      spdlog::error("volume {}: {}", v.handle, s.error().what());
  }
}

Status ContainerManager::remove_remains(const std::string& handle,
                                        const std::string& rootfs_volume) {
  if (auto c = runtime_->find(handle); c) {
    // Keep the state while anything may still run: a later try (or restart) finds it again.
    TARMAC_RETURN_IF_ERROR((*c)->destroy(), "destroy container " + handle);
  }
  // The shims record the end of their processes; give them time to, then remove it all.
  std::string procs = dir_of(handle) + "/processes";
  if (auto ids = fs::list_dir(procs); ids) {
    for (const std::string& id : *ids) {
      std::string dir = procs + "/" + id;
      for (int i = 0; i < 500 && !fs::exists(dir + "/" + shim::kExitFile); ++i) {
        auto conn = ShimConnection::connect(dir);
        if (!conn || !conn->has_value()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  move_aside(options_.output_dir, handle);
  move_aside(options_.dir, handle);
  if (!rootfs_volume.empty()) {
    auto s = volumes_.destroy(rootfs_volume);
    if (!s.ok() && s.error().errnum() != ENOENT)
      spdlog::error("container {}: destroy rootfs volume {}: {}", handle, rootfs_volume,
                    s.error().what());
  }
  return {};
}

Result<runtime::ContainerSpec> ContainerManager::runtime_spec(const v1::ContainerSpec& spec,
                                                              const std::string& handle,
                                                              const std::string& rootfs) const {
  runtime::ContainerSpec rs;
  rs.id = handle;
  rs.rootfs = rootfs;
  rs.main_process = false;
  rs.hostname = handle.substr(0, 63);
  rs.masked_paths = runtime::default_masked_paths();
  rs.readonly_paths = runtime::default_readonly_paths();
  rs.namespaces.network = spec.isolated_network();
  rs.privileged = spec.privileged();
  if (!spec.privileged()) {
    rs.namespaces.user = true;
    rs.uid_map = {{0, options_.ids.host_base, options_.ids.size}};
    rs.gid_map = {{0, options_.ids.host_base, options_.ids.size}};
    rs.capabilities = unprivileged_capabilities();
  }
  for (int i = 0; i < spec.mounts_size(); ++i) {
    const v1::VolumeMount& m = spec.mounts(i);
    std::string field = "mounts[" + std::to_string(i) + "]";
    if (m.path().empty() || m.path()[0] != '/')
      return Error(field + ".path: expected an absolute path, got \"" + m.path() + "\"");
    auto vol = volumes_.get(m.volume());
    if (!vol) return std::move(vol).error().wrap(field + ".volume");
    runtime::Mount mount;
    mount.source = vol->path;
    mount.destination = m.path();
    mount.readonly = m.readonly();
    rs.mounts.push_back(mount);
  }
  const v1::Limits& l = spec.limits();
  if (l.memory_bytes() < 0 || l.pids() < 0)
    return Error("limits: expected memory_bytes and pids of 0 (none) or more");
  if (l.memory_bytes() > 0) rs.limits.memory_bytes = l.memory_bytes();
  if (l.pids() > 0) rs.limits.pids_max = l.pids();
  if (l.cpu_shares() > 0) rs.limits.cpu_shares = l.cpu_shares();
  return rs;
}

Result<v1::Container> ContainerManager::create(const v1::ContainerSpec& spec) {
  std::string handle = spec.handle().empty() ? new_uuid() : spec.handle();
  TARMAC_RETURN_IF_ERROR(runtime::validate_container_id(handle), "create container: handle");
  // .trash, .spread: the worker's own, beside the containers' directories.
  if (handle[0] == '.')
    return Error("create container: handle \"" + handle +
                     "\": names starting with '.' are reserved for the worker",
                 EINVAL);
  if (spec.image_volume().empty())
    return Error("create container " + handle + ": image_volume: expected a volume handle");
  {
    std::lock_guard lock(mu_);
    if (!refusing_.empty()) return Error("create container: " + refusing_, EAGAIN);
    if (entries_.count(handle))
      return Error("create container: \"" + handle + "\" already exists", EEXIST);
    entries_[handle] = Entry{};
  }
  std::string rootfs_volume;
  bool done = false;
  ScopeExit cleanup([&] {
    if (done) return;
    if (auto s = remove_remains(handle, rootfs_volume); !s.ok())
      spdlog::error("container {}: {}", handle, s.error().what());
    std::lock_guard lock(mu_);
    entries_.erase(handle);
  });
  auto fail = [&](Error e) { return std::move(e).wrap("create container " + handle); };

  std::string dir = dir_of(handle);
  if (auto s = fs::make_dirs(dir + "/processes", 0700); !s.ok()) return fail(s.error());
  // Made in a shard and moved where it belongs: it, its processes' directories and logs stay
  // in the shard's block group.
  std::string fresh = output_spreader_->next() + "/" + handle;
  if (::mkdir(fresh.c_str(), 0700) != 0) return fail(sys_error("mkdir " + fresh));
  if (::rename(fresh.c_str(), output_dir_of(handle).c_str()) != 0) {
    Error e = sys_error("move " + fresh + " to " + output_dir_of(handle));
    (void)::rmdir(fresh.c_str());
    return fail(std::move(e));
  }
  auto image = volumes_.get(spec.image_volume());
  if (!image) return fail(std::move(image).error().wrap("image_volume"));
  std::string id = new_uuid();
  if (auto s = fs::write_file_atomic(dir + "/" + kRootfsFile, id, 0600, false); !s.ok())
    return fail(s.error());
  rootfs_volume = id;
  baggageclaim::CreateSpec vs;
  vs.handle = id;
  vs.strategy.kind = baggageclaim::Strategy::Kind::kCow;
  vs.strategy.parent = spec.image_volume();
  vs.privileged = spec.privileged();
  vs.properties[kRootfsOwnerProperty] = handle;
  auto rootfs = volumes_.create(vs);
  if (!rootfs) return fail(std::move(rootfs).error().wrap("rootfs volume"));

  auto rs = runtime_spec(spec, handle, rootfs->path);
  if (!rs) return fail(std::move(rs).error());
  auto made = runtime_->create(*rs, {});
  if (!made) return fail(std::move(made).error());

  v1::Container c;
  c.set_handle(handle);
  *c.mutable_properties() = spec.properties();
  c.set_privileged(spec.privileged());
  c.set_rootfs_volume(id);
  c.set_created_unix_ms(now_unix_ms());
  *c.mutable_spec() = spec;
  c.mutable_spec()->set_handle(handle);
  if (auto s = save(c); !s.ok()) return fail(s.error());
  done = true;
  std::lock_guard lock(mu_);
  entries_[handle] = Entry{c, true};
  return c;
}

v1::Container ContainerManager::with_processes(const v1::Container& c) const {
  v1::Container out = c;
  if (auto ids = fs::list_dir(dir_of(c.handle()) + "/processes"); ids) {
    for (const std::string& id : *ids)
      if (auto info = process_info(c.handle(), id); info) *out.add_processes() = *info;
  }
  return out;
}

Result<v1::Container> ContainerManager::get(const std::string& handle) const {
  v1::Container c;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(handle);
    if (it == entries_.end() || !it->second.ready) return not_found(handle);
    c = it->second.container;
  }
  return with_processes(c);
}

std::vector<v1::Container> ContainerManager::list(
    const std::map<std::string, std::string>& filter) const {
  std::vector<v1::Container> found;
  {
    std::lock_guard lock(mu_);
    for (const auto& [handle, e] : entries_)
      if (e.ready && matches(e.container, filter)) found.push_back(e.container);
  }
  for (auto& c : found) c = with_processes(c);
  return found;
}

std::vector<std::string> ContainerManager::handles() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [handle, e] : entries_) out.push_back(handle);
  return out;
}

int ContainerManager::active_tasks() const {
  // Asked on every heartbeat and drain poll: only the exit files are looked at, as
  // process_info decides "running".
  int n = 0;
  for (const std::string& h : handles()) {
    std::string procs = dir_of(h) + "/processes";
    auto ids = fs::list_dir(procs);
    if (!ids) continue;
    n += std::any_of(ids->begin(), ids->end(), [&](const std::string& id) {
      return !fs::exists(procs + "/" + id + "/" + shim::kExitFile);
    });
  }
  return n;
}

void ContainerManager::refuse_new_containers(std::string reason) {
  std::lock_guard lock(mu_);
  refusing_ = std::move(reason);
}

Result<v1::Container> ContainerManager::set_property(const std::string& handle,
                                                     const std::string& name,
                                                     const std::string& value) {
  if (name.empty()) return Error("set property: name: expected a non-empty name");
  std::lock_guard lock(mu_);
  auto it = entries_.find(handle);
  if (it == entries_.end() || !it->second.ready) return not_found(handle);
  v1::Container c = it->second.container;
  (*c.mutable_properties())[name] = value;
  TARMAC_RETURN_IF_ERROR(save(c), "set property");
  it->second.container = c;
  return c;
}

Status ContainerManager::destroy(const std::string& handle) {
  std::string rootfs_volume;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(handle);
    if (it == entries_.end() || !it->second.ready) return not_found(handle);
    it->second.ready = false;
    rootfs_volume = it->second.container.rootfs_volume();
  }
  auto removed = remove_remains(handle, rootfs_volume);
  std::lock_guard lock(mu_);
  if (!removed.ok()) {
    entries_[handle].ready = true;
    return removed;
  }
  entries_.erase(handle);
  return {};
}

}  // namespace tarmac::containers
