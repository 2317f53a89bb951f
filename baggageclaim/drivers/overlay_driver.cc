#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "baggageclaim/copy/copy_tree.h"
#include "baggageclaim/driver.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"

namespace tarmac::baggageclaim {
namespace {

// Layout of a volume directory:
//   upper/          the volume's own writes
//   layers/<n>/     former uppers, frozen when the volume got a copy-on-write child;
//                   read-only from then on and shared with the children (higher n = newer)
//   work/           overlay's work dir; work.<n>/ are the ones retired by freezes
//   volume/         the mount: overlay(upper over layers/* over inherited layers), or a bind
//                   of upper/ while there are no layers
//
// A child's lower layers are its parent's layers plus the parent's own inherited ones, so a
// copy-on-write copies nothing at any depth, and since the stack is written in meta.json
// and the layer directories, it is mounted again after a reboot (Concourse copied the
// parent's upper into the child because its chains broke, #4964, baggageclaim#44).
class OverlayDriver : public Driver {
 public:
  explicit OverlayDriver(DriverContext context) : c_(std::move(context)) {}

  std::string_view name() const override { return "overlay"; }

  Status create_empty(VolumeRecord& record) override {
    return make_volume_root(record.dir + "/upper", record, c_);
  }

  Status create_cow(VolumeRecord& parent, VolumeRecord& child) override {
    auto empty = upper_is_empty(parent);
    if (!empty.ok()) return std::move(empty).error().wrap("copy-on-write");
    auto own = own_layers(parent.dir);
    if (!own.ok()) return std::move(own).error().wrap("copy-on-write");
    // Sharing would stack the child (and, after a freeze, the parent) one layer deeper.
    size_t depth = own->size() + parent.inherited_layers.size() + (*empty ? 0 : 1);
    auto fits =
        depth > c_.max_layers ? Result<bool>(false) : stacks_fit(parent, child, *own, *empty);
    if (!fits.ok()) return std::move(fits).error().wrap("copy-on-write");
    if (!*fits) {
      TARMAC_RETURN_IF_ERROR(copy_parent(parent, child, *empty),
                             "copy-on-write of " + parent.volume.handle);
      return ok_status();
    }
    // The parent's writes so far become a layer both share; the parent writes on above it.
    if (!*empty) {
      TARMAC_RETURN_IF_ERROR(freeze(parent), "copy-on-write: freeze " + parent.volume.handle);
      own = own_layers(parent.dir);
      if (!own.ok()) return std::move(own).error().wrap("copy-on-write");
    }
    child.inherited_layers.clear();
    for (int n : *own)
      child.inherited_layers.push_back(parent.volume.handle + "/" + std::to_string(n));
    child.inherited_layers.insert(child.inherited_layers.end(), parent.inherited_layers.begin(),
                                  parent.inherited_layers.end());
    // The child's root directory looks like the parent's: the overlay takes it from the upper.
    auto lowers = lower_dirs(child, false);
    if (!lowers.ok()) return std::move(lowers).error().wrap("copy-on-write");
    return new_upper(child.dir, lowers->empty() ? parent.dir + "/upper" : lowers->front());
  }

  Status mount(const VolumeRecord& record) override {
    const std::string& dir = record.dir;
    std::string target = dir + "/volume";
    // A freeze interrupted between moving upper/ to layers/ and making a new one.
    if (!fs::exists(dir + "/upper")) {
      auto own = own_layers(dir);
      if (!own.ok()) return std::move(own).error().wrap("mount volume");
      if (own->empty()) return Error("mount volume: " + dir + " has neither upper nor layers");
      TARMAC_RETURN_IF_ERROR(new_upper(dir, dir + "/layers/" + std::to_string(own->front())),
                             "mount volume");
    }
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(target), "mount volume");
    auto mounted = is_mount_point(target);
    if (!mounted.ok()) return std::move(mounted).error().wrap("mount volume");
    if (*mounted) return ok_status();

    bool mapped = !record.volume.privileged && c_.idmap();
    auto lowers = lower_dirs(record, mapped);
    if (!lowers.ok()) return std::move(lowers).error().wrap("mount volume");
    if (lowers->empty()) {
      if (mapped) return mount_idmapped(dir + "/upper", target, c_.userns_fd);
      return bind_mount(dir + "/upper", target);
    }
    if (::mkdir((dir + "/work").c_str(), 0700) == 0) {
      // New: nothing to clear (the common case, a new copy).
    } else if (errno == EEXIST) {
      // Mounted before, volatile: the store drops every volume if the host went down since,
      // so what this one's upper holds is whole.
      TARMAC_RETURN_IF_ERROR(clear_volatile_mark(dir + "/work"), "mount volume");
    } else {
      return sys_error("mount volume: mkdir " + dir + "/work");
    }
    // Overlay does its own work as the mounter: through idmapped layers that must be an id
    // the view maps.
    ScopedMappedFsIds fsids(c_.ids, mapped);
    TARMAC_RETURN_IF_ERROR(fsids.status(), "mount volume");
    return overlay_mount(*lowers, view(dir + "/upper", mapped), view(dir + "/work", mapped), target,
                         /*volatile_upper=*/true, c_.legacy_mounts);
  }

  bool copies_on_cow() const override { return false; }

  StreamTarget stream_target(const VolumeRecord& record) const override {
    StreamTarget t;
    t.dir = record.dir + "/volume";
    if (!record.volume.privileged) {
      t.id_offset = c_.ids.host_base;
      t.mapped_fsids = c_.idmap();
    }
    return t;
  }

 private:
  // `path` (under the store root) as seen through the idmapped view of the root.
  std::string view(const std::string& path, bool mapped) const {
    if (!mapped) return path;
    return c_.idmapped_root + path.substr(c_.root.size());
  }

  static Result<std::vector<int>> own_layers(const std::string& dir) {
    std::vector<int> layers;
    if (!fs::exists(dir + "/layers")) return layers;
    auto names = fs::list_dir(dir + "/layers");
    if (!names.ok()) return std::move(names).error();
    for (const auto& name : *names) {
      char* end = nullptr;
      long n = std::strtol(name.c_str(), &end, 10);
      if (name.empty() || *end != '\0' || n < 0)
        return Error(dir + "/layers/" + name + ": not a layer number");
      layers.push_back(static_cast<int>(n));
    }
    std::sort(layers.rbegin(), layers.rend());
    return layers;
  }

  Result<std::vector<std::string>> lower_dirs(const VolumeRecord& record, bool mapped) const {
    auto own = own_layers(record.dir);
    if (!own.ok()) return std::move(own).error();
    std::vector<std::string> lowers;
    for (int n : *own) lowers.push_back(view(record.dir + "/layers/" + std::to_string(n), mapped));
    for (const auto& ref : record.inherited_layers) {
      auto slash = ref.find('/');
      if (slash == std::string::npos) return Error("inherited layer \"" + ref + "\": malformed");
      std::string path = c_.live_dir(ref.substr(0, slash)) + "/layers/" + ref.substr(slash + 1);
      if (!fs::exists(path)) return Error("inherited layer " + path + ": missing");
      lowers.push_back(view(path, mapped));
    }
    return lowers;
  }

  static Result<bool> upper_is_empty(const VolumeRecord& record) {
    std::string upper = record.dir + "/upper";
    DIR* d = ::opendir(upper.c_str());
    if (!d) return sys_error("open " + upper);
    bool empty = true;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") {
        empty = false;
        break;
      }
    }
    ::closedir(d);
    return empty;
  }

  // An empty upper/ that looks like `like` (mode, owner, times): the overlay's root directory
  // takes them from the upper, so a volume keeps its root's look when its upper becomes a
  // layer, and a child starts with its parent's.
  static Status new_upper(const std::string& dir, const std::string& like) {
    std::string upper = dir + "/upper";
    struct stat st;
    if (::stat(like.c_str(), &st) != 0) return sys_error("stat " + like);
    if (::mkdir(upper.c_str(), 0700) != 0) return sys_error("mkdir " + upper);
    if (::chown(upper.c_str(), st.st_uid, st.st_gid) != 0) return sys_error("chown " + upper);
    if (::chmod(upper.c_str(), st.st_mode & 07777) != 0) return sys_error("chmod " + upper);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(AT_FDCWD, upper.c_str(), times, 0) != 0) return sys_error("utimes " + upper);
    return ok_status();
  }

  // A child of a parent whose stack is as deep as allowed (or as this kernel can mount, see
  // stacks_fit): a copy of the parent as it is now
  // (the files as stored, read through a read-only overlay of its upper and layers) becomes
  // the child's upper. The parent is not frozen, so neither stack grows; the child starts one
  // of its own. The kernel logs that the parent's upper is in use by the parent's own mount:
  // this overlay only reads it, as a copy of any mounted volume does.
  Status copy_parent(const VolumeRecord& parent, VolumeRecord& child, bool upper_empty) {
    child.inherited_layers.clear();
    auto lowers = lower_dirs(parent, false);
    if (!lowers.ok()) return std::move(lowers).error();
    std::vector<std::string> stack;
    if (!upper_empty || lowers->empty()) stack.push_back(parent.dir + "/upper");
    stack.insert(stack.end(), lowers->begin(), lowers->end());
    std::string upper = child.dir + "/upper";
    if (::mkdir(upper.c_str(), 0700) != 0) return sys_error("mkdir " + upper);
    std::string merged = child.dir + "/merged";
    if (::mkdir(merged.c_str(), 0700) != 0) return sys_error("mkdir " + merged);
    // Two or more: a copy is made only of a parent with layers or more than max_layers (>= 1).
    TARMAC_RETURN_IF_ERROR(overlay_mount(stack, "", "", merged, false, c_.legacy_mounts),
                           "read the parent");
    Status copied = copy_tree(merged, upper);
    Status unmounted = unmount(merged);
    if (!copied.ok()) return copied;
    if (!unmounted.ok()) return unmounted;
    if (::rmdir(merged.c_str()) != 0) return sys_error("rmdir " + merged);
    return ok_status();
  }

  // Whether sharing can be mounted on this kernel: the child's stack (the parent's layers,
  // after a freeze the parent's upper too) and the parent's own again after the freeze. With
  // lowerdir+ always; without it (kernels before 6.8) only what fits in a page of options.
  Result<bool> stacks_fit(const VolumeRecord& parent, const VolumeRecord& child,
                          const std::vector<int>& own, bool upper_empty) const {
    if (!overlay_stacks_limited(c_.legacy_mounts)) return true;  // the common case: no paths
    std::string next_layer =
        parent.dir + "/layers/" + std::to_string(own.empty() ? 0 : own.front() + 1);
    for (const VolumeRecord* r : {&child, &parent}) {
      bool mapped = !r->volume.privileged && c_.idmap();
      auto lowers = lower_dirs(parent, mapped);
      if (!lowers.ok()) return std::move(lowers).error();
      if (!upper_empty) lowers->insert(lowers->begin(), view(next_layer, mapped));
      // A new volume ends up in live/ under its handle.
      std::string dir = r == &child ? c_.live_dir(child.volume.handle) : parent.dir;
      if (!overlay_mountable(*lowers, view(dir + "/upper", mapped), view(dir + "/work", mapped),
                             c_.legacy_mounts))
        return false;
    }
    return true;
  }

  Status freeze(VolumeRecord& parent) {
    const std::string& dir = parent.dir;
    auto own = own_layers(dir);
    if (!own.ok()) return std::move(own).error();
    std::string n = std::to_string(own->empty() ? 0 : own->front() + 1);
    TARMAC_RETURN_IF_ERROR(unmount(dir + "/volume"), "detach");
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir + "/layers"), "layers dir");
    // Mounts of the old overlay may still be held (lazily detached) and keep using its work
    // dir: retire it rather than reuse it.
    if (fs::exists(dir + "/work") &&
        ::rename((dir + "/work").c_str(), (dir + "/work." + n).c_str()) != 0)
      return sys_error("retire " + dir + "/work");
    if (::rename((dir + "/upper").c_str(), (dir + "/layers/" + n).c_str()) != 0)
      return sys_error("move " + dir + "/upper to layers/" + n);
    TARMAC_RETURN_IF_ERROR(new_upper(dir, dir + "/layers/" + n), "freeze");
    TARMAC_RETURN_IF_ERROR(mount(parent), "remount");
    return ok_status();
  }

  DriverContext c_;
};

}  // namespace

std::unique_ptr<Driver> make_overlay_driver(const DriverContext& context) {
  return std::make_unique<OverlayDriver>(context);
}

}  // namespace tarmac::baggageclaim
