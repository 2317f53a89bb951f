#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "baggageclaim/copy/copy_tree.h"
#include "baggageclaim/driver.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"
#include "common/uuid.h"

namespace tarmac::baggageclaim {
namespace {

// Layout of a volume directory:
//   upper/          the volume's own writes
//   layers/<n>/     former uppers, frozen when the volume got a copy-on-write child, and
//                   flattened copies (see flatten); read-only from then on and shared with
//                   the children (higher n = newer)
//   base            after a flatten: the layer its stack starts from (and the one before)
//   work/           overlay's work dir; work.<n>.<uuid>/ are the ones retired by freezes (a
//                   freeze that failed after retiring one may retire another for the same n)
//   volume/         the mount: overlay(upper over its layers from the base up, over the
//                   inherited layers unless it has a base), or a bind of upper/ while there
//                   are no layers
//
// A child's lower layers are its parent's layers plus the parent's own inherited ones, so a
// copy-on-write copies nothing below max_layers, and since the stack is written in meta.json
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
    auto stack = stack_of(parent);
    if (!stack.ok()) return std::move(stack).error().wrap("copy-on-write");
    // Sharing would stack the child (and, after a freeze, the parent) one layer deeper.
    size_t depth = stack->own.size() + stack->inherited.size() + (*empty ? 0 : 1);
    auto fits =
        depth > c_.max_layers ? Result<bool>(false) : stacks_fit(parent, child, *stack, *empty);
    if (!fits.ok()) return std::move(fits).error().wrap("copy-on-write");
    if (!*fits) {
      // With one layer allowed, the upper goes into the flat copy too.
      if (!*empty && c_.max_layers < 2) {
        TARMAC_RETURN_IF_ERROR(freeze(parent, stack->next),
                               "copy-on-write: freeze " + parent.volume.handle);
        *empty = true;
        stack = stack_of(parent);
        if (!stack.ok()) return std::move(stack).error().wrap("copy-on-write");
      }
      TARMAC_RETURN_IF_ERROR(flatten(parent, child, *stack),
                             "copy-on-write: flatten " + parent.volume.handle);
      // The parent's mount stays as it is until its next freeze or mount: the old stack
      // shows what the new one does.
      stack = stack_of(parent);
      if (!stack.ok()) return std::move(stack).error().wrap("copy-on-write");
    }
    // The parent's writes so far become a layer both share; the parent writes on above it.
    if (!*empty) {
      TARMAC_RETURN_IF_ERROR(freeze(parent, stack->next),
                             "copy-on-write: freeze " + parent.volume.handle);
      stack = stack_of(parent);
      if (!stack.ok()) return std::move(stack).error().wrap("copy-on-write");
    }
    child.inherited_layers.clear();
    for (int n : stack->own)
      child.inherited_layers.push_back(parent.volume.handle + "/" + std::to_string(n));
    child.inherited_layers.insert(child.inherited_layers.end(), stack->inherited.begin(),
                                  stack->inherited.end());
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
      auto stack = stack_of(record);
      if (!stack.ok()) return std::move(stack).error().wrap("mount volume");
      if (stack->own.empty())
        return Error("mount volume: " + dir + " has neither upper nor layers");
      TARMAC_RETURN_IF_ERROR(new_upper(dir, dir + "/layers/" + std::to_string(stack->own.front())),
                             "mount volume");
    }
    // What an interrupted flatten had copied.
    if (fs::exists(dir + "/flat"))
      TARMAC_RETURN_IF_ERROR(fs::remove_all(dir + "/flat"), "mount volume");
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

  // What lies below a volume's upper: its own layers (highest first) and the ones it
  // inherited; after a flatten, its own from the base up and nothing inherited. `next` is the
  // number for its next layer, above any layer and any base it ever named.
  struct Stack {
    std::vector<int> own;
    std::vector<std::string> inherited;
    std::optional<int> base;
    int next = 0;
  };

  static Result<Stack> stack_of(const VolumeRecord& record) {
    const std::string& dir = record.dir;
    Stack stack;
    std::vector<int> all;
    if (fs::exists(dir + "/layers")) {
      auto names = fs::list_dir(dir + "/layers");
      if (!names.ok()) return std::move(names).error();
      for (const auto& name : *names) {
        auto n = layer_number(name);
        if (!n) return Error(dir + "/layers/" + name + ": not a layer number");
        all.push_back(*n);
      }
    }
    std::sort(all.rbegin(), all.rend());
    stack.next = all.empty() ? 0 : all.front() + 1;
    // "base": the newest base first, then the one before it. A base whose layer is not there
    // is a flatten cut off before its copy was moved into place: the one before it holds.
    if (fs::exists(dir + "/base")) {
      auto text = fs::read_file(dir + "/base");
      if (!text.ok()) return std::move(text).error();
      std::istringstream words(*text);
      std::string word;
      int count = 0;
      while (words >> word) {
        auto n = layer_number(word);
        if (!n || ++count > 2)
          return Error(dir + "/base: expected one or two layer numbers, got \"" + *text + "\"");
        stack.next = std::max(stack.next, *n + 1);
        if (!stack.base && std::find(all.begin(), all.end(), *n) != all.end()) stack.base = n;
      }
      if (count == 0) return Error(dir + "/base: expected one or two layer numbers, got nothing");
    }
    for (int n : all)
      if (!stack.base || n >= *stack.base) stack.own.push_back(n);
    if (!stack.base) stack.inherited = record.inherited_layers;
    return stack;
  }

  // "0", "17": exactly a number's own spelling (a "07" would name a different directory).
  static std::optional<int> layer_number(const std::string& name) {
    if (name.empty() || name.size() > 7 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        (name.size() > 1 && name[0] == '0'))
      return std::nullopt;
    return std::stoi(name);
  }

  Result<std::vector<std::string>> lower_dirs(const VolumeRecord& record, bool mapped) const {
    auto stack = stack_of(record);
    if (!stack.ok()) return std::move(stack).error();
    std::vector<std::string> lowers;
    for (int n : stack->own)
      lowers.push_back(view(record.dir + "/layers/" + std::to_string(n), mapped));
    for (const auto& ref : stack->inherited) {
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

  // A parent whose stack is as deep as allowed (or as this kernel can mount, see stacks_fit)
  // has the layers below its upper made one: a copy of them (the files as stored, read through
  // a read-only overlay, whiteouts applied) becomes its layer <n>, which "base" names as where
  // its stack now starts. Its upper stays as it is, over the copy, showing what it showed over
  // the old layers, and becomes a layer above the copy at the freeze that follows if it holds
  // anything. Only the copy costs what the volume holds; the children after it share it like
  // any layer. Its older layers stay for the children that share them.
  //
  // A crash at any point leaves the same view: "base" names the new layer before the copy is
  // moved into place (with the base before it), and a base counts only once its layer exists.
  Status flatten(const VolumeRecord& parent, const VolumeRecord& child, const Stack& stack) {
    const std::string& dir = parent.dir;
    auto lowers = lower_dirs(parent, false);
    if (!lowers.ok()) return std::move(lowers).error();
    // A stack of one is not deeper than any limit (max_layers >= 1).
    if (lowers->size() < 2) return Error("flatten: " + dir + " has fewer than two layers");
    std::string flat = dir + "/flat";
    step();
    if (fs::exists(flat)) TARMAC_RETURN_IF_ERROR(fs::remove_all(flat), "clear " + flat);
    if (::mkdir(flat.c_str(), 0700) != 0) return sys_error("mkdir " + flat);
    // The view is mounted in the child's directory, which a crash removes with the child.
    std::string merged = child.dir + "/merged";
    if (::mkdir(merged.c_str(), 0700) != 0) return sys_error("mkdir " + merged);
    step();
    Status copied = overlay_mount(*lowers, "", "", merged, false, c_.legacy_mounts);
    if (copied.ok()) {
      step();
      copied = copy_tree(merged, flat);
      Status unmounted = unmount(merged);
      if (copied.ok()) copied = unmounted;
      if (copied.ok() && ::rmdir(merged.c_str()) != 0) copied = sys_error("rmdir " + merged);
    } else {
      copied = copied.error().wrap("read the layers");
    }
    if (!copied.ok()) {
      (void)fs::remove_all(flat);  // its space back now, not at the next mount
      return copied;
    }
    std::string n = std::to_string(stack.next);
    std::string base = stack.base ? n + " " + std::to_string(*stack.base) : n;
    step();
    TARMAC_RETURN_IF_ERROR(fs::write_file_atomic(dir + "/base", base, 0600, /*durable=*/false),
                           "write " + dir + "/base");
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir + "/layers"), "layers dir");
    step();
    if (::rename(flat.c_str(), (dir + "/layers/" + n).c_str()) != 0)
      return sys_error("move " + flat + " to layers/" + n);
    return ok_status();
  }

  // Whether sharing can be mounted on this kernel: the child's stack (the parent's layers,
  // after a freeze the parent's upper too) and the parent's own again after the freeze. With
  // lowerdir+ always; without it (kernels before 6.8) only what fits in a page of options.
  Result<bool> stacks_fit(const VolumeRecord& parent, const VolumeRecord& child, const Stack& stack,
                          bool upper_empty) const {
    if (!overlay_stacks_limited(c_.legacy_mounts)) return true;  // the common case: no paths
    std::string next_layer = parent.dir + "/layers/" + std::to_string(stack.next);
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

  Status freeze(const VolumeRecord& parent, int next) {
    const std::string& dir = parent.dir;
    std::string n = std::to_string(next);
    step();
    TARMAC_RETURN_IF_ERROR(unmount(dir + "/volume"), "detach");
    auto steps = [&]() -> Status {
      TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir + "/layers"), "layers dir");
      step();
      // Mounts of the old overlay may still be held (lazily detached) and keep using its
      // work dir: retire it rather than reuse it.
      if (fs::exists(dir + "/work") &&
          ::rename((dir + "/work").c_str(), (dir + "/work." + n + "." + new_uuid()).c_str()) != 0)
        return sys_error("retire " + dir + "/work");
      step();
      if (::rename((dir + "/upper").c_str(), (dir + "/layers/" + n).c_str()) != 0)
        return sys_error("move " + dir + "/upper to layers/" + n);
      step();
      TARMAC_RETURN_IF_ERROR(new_upper(dir, dir + "/layers/" + n), "freeze");
      return ok_status();
    };
    Status done = steps();
    step();
    // Mounted again whatever happened: as frozen, or as it was (mount() finishes a freeze cut
    // off between moving the upper and making a new one).
    Status mounted = mount(parent);
    if (!done.ok()) return done;
    return mounted.ok() ? ok_status() : mounted.error().wrap("remount");
  }

  void step() const {
    if (c_.cow_step) c_.cow_step();
  }

  DriverContext c_;
};

}  // namespace

std::unique_ptr<Driver> make_overlay_driver(const DriverContext& context) {
  return std::make_unique<OverlayDriver>(context);
}

}  // namespace tarmac::baggageclaim
