#include "baggageclaim/store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "baggageclaim/copy/copy_tree.h"
#include "baggageclaim/id_shift.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"
#include "common/fs_kind.h"
#include "common/unique_fd.h"
#include "common/uuid.h"

namespace tarmac::baggageclaim {
namespace {

Error not_found(const std::string& handle) {
  return Error("volume \"" + handle + "\" not found", ENOENT);
}

// Removes a volume directory a crash left in init/ or dead/, mounts first.
Status remove_volume_dir(const std::string& dir) {
  TARMAC_RETURN_IF_ERROR(unmount_under(dir), "remove " + dir);
  return fs::remove_all(dir);
}

Result<UniqueFd> open_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_error("open " + dir);
  return fd;
}

}  // namespace

Store::Store(StoreOptions options, DriverContext context, std::unique_ptr<Driver> driver)
    : options_(std::move(options)),
      context_(std::move(context)),
      driver_(std::move(driver)),
      remover_([](const std::string& dead) {
        // Gone for every caller already; what fails here goes at the next start.
        if (auto s = remove_volume_dir(dead); !s.ok())
          spdlog::warn("volume store: could not remove {}: {}", dead, s.error().what());
      }) {}

// Volumes are written without syncs (overlays are mounted volatile): a cache the ATC
// rebuilds. Only a host that goes down can lose what a volume holds, so a store that closes
// syncs once and says so, and one that opens after the host went down with it open drops
// every volume rather than serve one that lost writes.
Store::~Store() {
  remover_.drain();
  // A store that did not finish opening may have dropped only some of what it had to.
  if (!opened_) return;
  UniqueFd root(::open(context_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root || ::syncfs(root.get()) != 0) {
    spdlog::warn("volume store {}: sync at close failed: {}", context_.root,
                 sys_error("syncfs").what());
    return;
  }
  if (auto s = record_boot("closed"); !s.ok())
    spdlog::warn("volume store {}: {}", context_.root, s.error().what());
}

Result<bool> Store::host_went_down() const {
  auto last = fs::read_file(context_.root + "/boot");
  // No record: a new store, or one from before the record (kept, as it was then).
  if (!last.ok())
    return last.error().errnum() == ENOENT ? Result<bool>(false) : std::move(last).error();
  std::string id = last->substr(0, last->find(' '));
  bool closed = last->find(" closed") != std::string::npos;
  return id != boot_id_ && !closed;
}

Status Store::record_boot(std::string_view state) {
  std::string path = context_.root + "/boot";
  TARMAC_RETURN_IF_ERROR(fs::write_file_atomic(path, boot_id_ + " " + std::string(state) + "\n",
                                               0644, /*durable=*/true),
                         "record boot");
  // The rename too must outlast a power loss, or the next boot reads the record before it.
  UniqueFd root(::open(context_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root || ::fsync(root.get()) != 0) return sys_error("record boot: fsync " + context_.root);
  return ok_status();
}

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  if (options.root.empty()) return Error("open volume store: no root directory given");
  // 500: the kernel's own limit of an overlay's lower layers (OVL_MAX_STACK).
  if (options.max_layers < 1 || options.max_layers > 500)
    return Error("open volume store: max_layers: expected 1 to 500, got " +
                 std::to_string(options.max_layers));
  // 0711 down to each volume: an unprivileged container's root (a mapped uid) must reach its
  // volumes through these directories, while nobody else can list them.
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(options.root, 0711), "open volume store");
  char real[PATH_MAX];
  if (!::realpath(options.root.c_str(), real))
    return sys_error("open volume store: resolve " + options.root);
  if (auto bare = on_ext4_without_journal(real); bare.ok() && *bare)
    spdlog::warn(
        "volume store {}: ext4 without a journal, which scans past every inode removed in the "
        "last minutes each time it makes one: volumes and containers get slower to create the "
        "more were removed lately; a journal (mkfs.ext4's default) avoids it",
        real);
  DriverContext context;
  context.root = real;
  context.ids = options.ids;
  context.max_layers = static_cast<size_t>(options.max_layers);
  context.legacy_mounts = options.legacy_overlay_mounts;
  context.cow_step = options.cow_step;
  for (const char* phase : {"/init", "/live", "/dead"})
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(context.root + phase, 0711), "open volume store");

  // Whether unprivileged volumes hold container ids (idmapped) or host ids is a property of
  // the data on disk: a store keeps the mode it was made with.
  std::string mode_file = context.root + "/store.json";
  UniqueFd userns;
  bool want_idmap = options.idmap;
  if (auto saved = fs::read_file(mode_file); saved.ok())
    want_idmap = saved->find("\"idmap\":true") != std::string::npos;
  if (want_idmap) {
    std::string view = context.root + "/idmapped";
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(view, 0700), "open volume store");
    TARMAC_RETURN_IF_ERROR(unmount_under(view), "open volume store");
    auto ns = make_userns(options.ids);
    Status mounted =
        ns.ok() ? mount_idmapped(context.root, view, ns->get()) : Status(std::move(ns).error());
    if (mounted.ok()) {
      userns = std::move(*ns);
      context.userns_fd = userns.get();
      context.idmapped_root = view;
    } else if (fs::exists(mode_file)) {
      return mounted.error().wrap("open volume store " + context.root +
                                  ": its unprivileged volumes need idmapped mounts");
    } else {
      spdlog::warn(
          "volume store {}: no idmapped mounts ({}); unprivileged volumes will be "
          "chowned instead",
          context.root, mounted.error().what());
    }
  }
  TARMAC_RETURN_IF_ERROR(fs::write_file_atomic(mode_file, context.idmap() ? "{\"idmap\":true}\n"
                                                                          : "{\"idmap\":false}\n"),
                         "open volume store");

  std::unique_ptr<Driver> driver;
  if (options.driver == "overlay" ||
      (options.driver == "detect" && overlay_supported(context.root))) {
    if (options.driver == "overlay" && !overlay_supported(context.root))
      return Error("open volume store: driver overlay: " + context.root +
                   " cannot hold overlay mounts");
    driver = make_overlay_driver(context);
  } else if (options.driver == "naive" || options.driver == "detect") {
    driver = make_naive_driver(context);
  } else {
    return Error("open volume store: driver \"" + options.driver +
                 "\": expected overlay, naive or detect");
  }
  std::unique_ptr<Store> store(new Store(options, std::move(context), std::move(driver)));
  store->userns_ = std::move(userns);
  store->boot_id_ = options.boot_id;
  if (store->boot_id_.empty()) {
    auto id = fs::read_file("/proc/sys/kernel/random/boot_id");
    if (!id.ok()) return std::move(id).error().wrap("open volume store: read this boot's id");
    store->boot_id_ = id->substr(0, id->find('\n'));
  }
  TARMAC_RETURN_IF_ERROR(store->recover(), "open volume store " + store->context_.root);
  // After recovery, which removes all init/ holds. A volume's directory is made in one of
  // these shards and renamed to live/ when whole: it stays in its shard's block group with
  // everything made in it, so the volumes' inodes are spread over 16 groups, not piled in one
  // (see DirSpreader; it matters most on ext4 without a journal).
  auto spreader = DirSpreader::open(store->context_.root + "/init", DirSpreader::kShards, 0711);
  if (!spreader.ok()) return std::move(spreader).error().wrap("open volume store");
  store->spreader_ = std::move(*spreader);
  store->opened_ = true;
  return store;
}

Status Store::recover() {
  // Half-made volumes go now (a create of the same handle would meet them in init/); what a
  // stop left in dead/ goes in the background, as any destroyed volume does.
  auto unfinished = fs::list_dir(context_.root + "/init");
  if (!unfinished.ok()) return std::move(unfinished).error();
  for (const auto& name : *unfinished)
    TARMAC_RETURN_IF_ERROR(remove_volume_dir(context_.root + "/init/" + name),
                           "remove unfinished volume");
  remover_.sweep(context_.root + "/dead");
  auto names = fs::list_dir(context_.root + "/live");
  if (!names.ok()) return std::move(names).error();
  auto went_down = host_went_down();
  if (!went_down.ok()) return std::move(went_down).error();
  if (*went_down) {
    if (!names->empty())
      spdlog::warn(
          "volume store {}: the host went down while the store was open; dropping its {} "
          "volumes, whose last writes may be lost",
          context_.root, names->size());
    for (const auto& handle : *names)
      TARMAC_RETURN_IF_ERROR(
          remover_.take(context_.live_dir(handle), context_.root + "/dead", handle),
          "drop volume " + handle);
    names->clear();
  }
  // Only once every volume of a boot that went down is dropped: a store stopped half way
  // through drops the rest at its next open.
  TARMAC_TRY(record_boot("running"));
  for (const auto& handle : *names) {
    if (auto s = recover_volume(handle); !s.ok()) {
      // A volume that cannot come back is removed whole rather than served half.
      spdlog::error("volume store: removing volume {}: {}", handle, s.error().what());
      TARMAC_RETURN_IF_ERROR(
          remover_.take(context_.live_dir(handle), context_.root + "/dead", handle),
          "remove broken volume " + handle);
    }
  }
  return ok_status();
}

Status Store::recover_volume(const std::string& handle) {
  std::string dir = context_.live_dir(handle);
  auto meta = fs::read_file(dir + "/meta.json");
  if (!meta.ok()) return std::move(meta).error();
  auto record = decode_meta(dir + "/meta.json", *meta);
  if (!record.ok()) return std::move(record).error();
  if (record->volume.handle != handle)
    return Error(dir + "/meta.json: names volume \"" + record->volume.handle + "\"");
  record->dir = dir;
  record->volume.path = dir + "/volume";
  TARMAC_RETURN_IF_ERROR(driver_->mount(*record), "mount");
  StreamTarget target = driver_->stream_target(*record);
  auto fd = open_dir(target.dir);
  if (!fd.ok()) return std::move(fd).error();
  ScopedMappedFsIds fsids(context_.ids, target.mapped_fsids);
  TARMAC_RETURN_IF_ERROR(fsids.status(), "clean streams");
  TARMAC_RETURN_IF_ERROR(tar::recover_streams(fd->get()), "clean streams");
  auto entry = std::make_shared<Entry>();
  entry->state = Entry::State::kLive;
  entry->record = std::move(*record);
  std::lock_guard lock(mu_);
  entries_[handle] = std::move(entry);
  return ok_status();
}

Status Store::write_meta(const VolumeRecord& record) {
  // Not fsynced: a volume is a cache the ATC can rebuild, and a crash of this process keeps
  // the page cache; a power loss may lose a recent property change, never a whole tree.
  return fs::write_file_atomic(record.dir + "/meta.json", encode_meta(record), 0600,
                               /*durable=*/false);
}

Status Store::write_new_meta(const VolumeRecord& record) {
  // In init/ no reader sees it half written (and a crash removes it whole): written in
  // place, without write_meta's temporary file and rename.
  return fs::write_file(record.dir + "/meta.json", encode_meta(record), 0600);
}

Result<std::shared_ptr<Store::Entry>> Store::live_entry(const std::string& handle) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(handle);
  if (it == entries_.end() || it->second->state != Entry::State::kLive) return not_found(handle);
  return it->second;
}

Result<VolumeRecord> Store::live_record(const std::string& handle, const Entry& entry) const {
  std::lock_guard lock(mu_);
  if (entry.state != Entry::State::kLive) return not_found(handle);
  return entry.record;
}

Result<Volume> Store::create(const CreateSpec& spec) {
  std::string handle = spec.handle.empty() ? new_uuid() : spec.handle;
  std::string context = "create volume \"" + handle + "\"";
  TARMAC_RETURN_IF_ERROR(check_handle(handle), context);
  const bool cow = spec.strategy.kind == Strategy::Kind::kCow;
  auto entry = std::make_shared<Entry>();
  std::shared_ptr<Entry> parent;
  {
    std::lock_guard lock(mu_);
    if (entries_.count(handle)) return Error(context + ": already exists", EEXIST);
    if (cow) {
      auto it = entries_.find(spec.strategy.parent);
      if (it == entries_.end() || it->second->state != Entry::State::kLive)
        return Error(context + ": parent volume \"" + spec.strategy.parent + "\" not found",
                     ENOENT);
      parent = it->second;
    }
    VolumeRecord& r = entry->record;
    r.volume.handle = handle;
    r.volume.properties = spec.properties;
    r.volume.privileged = spec.privileged;
    if (cow) r.volume.parent = spec.strategy.parent;
    r.dir = spreader_->next() + "/" + handle;
    // In the index from here on: the handle is taken and the parent cannot be destroyed.
    entries_[handle] = entry;
  }
  VolumeRecord& record = entry->record;
  auto fail = [&](Error e) -> Error {
    (void)remove_volume_dir(record.dir);
    std::lock_guard lock(mu_);
    entries_.erase(handle);
    return std::move(e).wrap(context);
  };
  if (::mkdir(record.dir.c_str(), 0711) != 0) return fail(sys_error("mkdir " + record.dir));
  Status laid_out;
  if (cow) {
    std::unique_lock parent_io(parent->io_mu);
    laid_out = driver_->create_cow(parent->record, record);
  } else {
    laid_out = driver_->create_empty(record);
  }
  if (!laid_out.ok()) return fail(std::move(laid_out).error());
  if (auto s = write_new_meta(record); !s.ok()) return fail(std::move(s).error());
  if (auto s = driver_->mount(record); !s.ok()) return fail(std::move(s).error());
  if (cow && !context_.idmap() && !driver_->copies_on_cow() &&
      parent->record.volume.privileged != record.volume.privileged) {
    if (auto s = shift_for_privilege(record, record.volume.privileged); !s.ok())
      return fail(std::move(s).error());
  }
  if (spec.strategy.kind == Strategy::Kind::kImport) {
    if (auto s = import(record, spec.strategy); !s.ok()) return fail(std::move(s).error());
  }
  // Visible only now, whole.
  std::string live = context_.live_dir(handle);
  if (::rename(record.dir.c_str(), live.c_str()) != 0)
    return fail(sys_error("move " + record.dir + " to " + live));
  std::lock_guard lock(mu_);
  record.dir = live;
  record.volume.path = live + "/volume";
  entry->state = Entry::State::kLive;
  return record.volume;
}

Status Store::import(const VolumeRecord& record, const Strategy& strategy) {
  const std::string& source = strategy.import_path;
  std::string context = "import " + source;
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) return sys_error(context);
  StreamTarget target = driver_->stream_target(record);
  ScopedMappedFsIds fsids(context_.ids, target.mapped_fsids);
  TARMAC_RETURN_IF_ERROR(fsids.status(), context);
  if (S_ISDIR(st.st_mode)) {
    CopyOptions options;
    options.follow_symlinks = strategy.follow_symlinks;
    options.id_offset = target.id_offset;
    return copy_tree(source, target.dir, options);
  }
  if (!S_ISREG(st.st_mode)) return Error(context + ": expected a directory or a .tgz file");
  // A file is a gzipped tarball, as Concourse's import.
  UniqueFd file(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return sys_error(context);
  auto dir = open_dir(target.dir);
  if (!dir.ok()) return std::move(dir).error();
  std::string buffer(1 << 20, '\0');
  tar::ReadFn read = [&]() -> Result<std::string_view> {
    ssize_t n = ::read(file.get(), buffer.data(), buffer.size());
    if (n < 0) return sys_error("read " + source);
    return std::string_view(buffer.data(), static_cast<size_t>(n));
  };
  tar::ExtractOptions options;
  options.encoding = tar::Encoding::kGzip;
  options.allow_devices = record.volume.privileged;
  options.id_offset = target.id_offset;
  return tar::stream_in(dir->get(), "", read, options);
}

Status Store::shift_for_privilege(const VolumeRecord& record, bool to_privileged) {
  StreamTarget target = driver_->stream_target(record);
  int64_t base = context_.ids.host_base;
  return shift_ids(target.dir, to_privileged ? -base : base);
}

std::vector<Volume> Store::list(const Properties& filter) const {
  std::vector<Volume> out;
  std::lock_guard lock(mu_);
  for (const auto& [handle, entry] : entries_) {
    if (entry->state != Entry::State::kLive) continue;
    const Properties& props = entry->record.volume.properties;
    bool match = std::all_of(filter.begin(), filter.end(), [&](const auto& kv) {
      auto it = props.find(kv.first);
      return it != props.end() && it->second == kv.second;
    });
    if (match) out.push_back(entry->record.volume);
  }
  return out;
}

Result<Volume> Store::get(const std::string& handle) const {
  auto entry = live_entry(handle);
  if (!entry.ok()) return std::move(entry).error();
  std::lock_guard lock(mu_);
  return (*entry)->record.volume;
}

Status Store::set_property(const std::string& handle, const std::string& name,
                           const std::string& value) {
  auto entry = live_entry(handle);
  if (!entry.ok()) return std::move(entry).error().wrap("set property");
  std::lock_guard lock(mu_);
  VolumeRecord updated = (*entry)->record;
  updated.volume.properties[name] = value;
  TARMAC_RETURN_IF_ERROR(write_meta(updated), "set property of \"" + handle + "\"");
  (*entry)->record = std::move(updated);
  return ok_status();
}

Status Store::set_privileged(const std::string& handle, bool privileged) {
  std::string context = "set privileged of \"" + handle + "\"";
  auto found = live_entry(handle);
  if (!found.ok()) return std::move(found).error().wrap("set privileged");
  auto& entry = *found;
  std::unique_lock io(entry->io_mu);
  VolumeRecord updated;
  {
    std::lock_guard lock(mu_);
    if (entry->state != Entry::State::kLive) return not_found(handle).wrap("set privileged");
    if (entry->record.volume.privileged == privileged) return ok_status();
    updated = entry->record;
  }
  if (!context_.idmap()) TARMAC_RETURN_IF_ERROR(shift_for_privilege(updated, privileged), context);
  updated.volume.privileged = privileged;
  TARMAC_RETURN_IF_ERROR(unmount(updated.volume.path), context);
  TARMAC_RETURN_IF_ERROR(write_meta(updated), context);
  TARMAC_RETURN_IF_ERROR(driver_->mount(updated), context);
  std::lock_guard lock(mu_);
  entry->record = std::move(updated);
  return ok_status();
}

Status Store::destroy(const std::string& handle) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(handle);
    if (it == entries_.end()) return not_found(handle).wrap("destroy");
    if (it->second->state != Entry::State::kLive)
      return Error("destroy volume \"" + handle + "\": it is being created or destroyed", EBUSY);
    std::string children;
    for (const auto& [h, e] : entries_) {
      if (e->record.volume.parent != handle) continue;
      children += children.empty() ? "\"" + h + "\"" : ", \"" + h + "\"";
    }
    if (!children.empty())
      return Error("destroy volume \"" + handle + "\": it has copy-on-write children " + children +
                       "; destroy them first",
                   EBUSY);
    entry = it->second;
    entry->state = Entry::State::kDestroying;
  }
  return destroy_entry(handle, entry);
}

Status Store::destroy_entry(const std::string& handle, const std::shared_ptr<Entry>& entry) {
  std::unique_lock io(entry->io_mu);
  // Moved with its mount still in it (a detach waits for an RCU grace period, a millisecond or
  // more): the remover unmounts it with everything else under dead/.
  Status s = remover_.take(entry->record.dir, context_.root + "/dead", handle);
  if (!s.ok()) {
    std::lock_guard lock(mu_);
    entry->state = Entry::State::kLive;
    return std::move(s).error().wrap("destroy volume \"" + handle + "\"");
  }
  std::lock_guard lock(mu_);
  entries_.erase(handle);
  return ok_status();
}

std::map<std::string, std::string> Store::destroy_many(const std::vector<std::string>& handles) {
  std::map<std::string, std::string> failed;
  std::vector<std::string> pending(handles.begin(), handles.end());
  // Leaves first: each pass destroys what has no children left, until nothing moves.
  for (bool progress = true; progress && !pending.empty();) {
    progress = false;
    std::vector<std::string> next;
    for (const auto& h : pending) {
      Status s = destroy(h);
      if (s.ok() || s.error().errnum() == ENOENT) {
        progress = true;
        failed.erase(h);
      } else {
        failed[h] = s.error().what();
        next.push_back(h);
      }
    }
    pending.swap(next);
  }
  return failed;
}

Status Store::stream_in(const std::string& handle, const std::string& path, const tar::ReadFn& read,
                        const StreamInOptions& options) {
  std::string context = "stream into \"" + handle + "\"";
  auto found = live_entry(handle);
  if (!found.ok()) return std::move(found).error().wrap("stream in");
  auto& entry = *found;
  std::unique_lock io(entry->io_mu);
  auto live = live_record(handle, *entry);
  if (!live.ok()) return std::move(live).error().wrap("stream in");
  const VolumeRecord& record = *live;
  StreamTarget target = driver_->stream_target(record);
  auto dir = open_dir(target.dir);
  if (!dir.ok()) return std::move(dir).error().wrap(context);
  ScopedMappedFsIds fsids(context_.ids, target.mapped_fsids);
  TARMAC_RETURN_IF_ERROR(fsids.status(), context);
  tar::ExtractOptions extract;
  extract.encoding = options.encoding;
  extract.max_bytes = options.limit;
  extract.allow_devices = record.volume.privileged;
  extract.id_offset = target.id_offset;
  TARMAC_RETURN_IF_ERROR(tar::stream_in(dir->get(), path, read, extract), context);
  return ok_status();
}

Status Store::stream_out(const std::string& handle, const std::string& path,
                         const tar::WriteFn& write, tar::Encoding encoding) {
  std::string context = "stream out of \"" + handle + "\"";
  auto found = live_entry(handle);
  if (!found.ok()) return std::move(found).error().wrap("stream out");
  auto& entry = *found;
  std::shared_lock io(entry->io_mu);
  auto live = live_record(handle, *entry);
  if (!live.ok()) return std::move(live).error().wrap("stream out");
  const VolumeRecord& record = *live;
  StreamTarget target = driver_->stream_target(record);
  auto dir = open_dir(target.dir);
  if (!dir.ok()) return std::move(dir).error().wrap(context);
  tar::ArchiveOptions archive;
  archive.encoding = encoding;
  archive.id_offset = target.id_offset;
  TARMAC_RETURN_IF_ERROR(tar::stream_out(dir->get(), path, write, archive), context);
  return ok_status();
}

}  // namespace tarmac::baggageclaim
