#include "baggageclaim/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/fs.h"
#include "common/mountinfo.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim {
namespace {

// The kernel's own explanation of a failed fsconfig ("e overlayfs: failed to ..."), if any.
std::string fs_context_log(int fs_fd) {
  std::string log;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fs_fd, buf, sizeof(buf) - 1);
    if (n <= 0) break;
    if (!log.empty()) log += "; ";
    log.append(buf, n);
  }
  return log;
}

Error fs_error(std::string context, int fs_fd) {
  int saved = errno;
  std::string log = fs_context_log(fs_fd);
  if (!log.empty()) context += " (" + log + ")";
  return sys_error(std::move(context), saved);
}

constexpr std::string_view kVolatile = ",volatile";

// mount(2)'s options for an overlay of these paths (",volatile" not included).
std::string legacy_options(const std::vector<std::string>& lowers, const std::string& upper,
                           const std::string& work) {
  std::string options = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); ++i) {
    if (i) options += ':';
    options += lowers[i];
  }
  if (!upper.empty()) options += ",upperdir=" + upper + ",workdir=" + work;
  options += ",index=off";
  return options;
}

bool fits_a_page(const std::string& options) {
  return options.size() + kVolatile.size() < static_cast<size_t>(::getpagesize());
}

Status overlay_mount_legacy(const std::vector<std::string>& lowers, const std::string& upper,
                            const std::string& work, const std::string& target,
                            bool volatile_upper) {
  std::string options = legacy_options(lowers, upper, work);
  if (!fits_a_page(options))
    return Error("mount overlay at " + target + ": " + std::to_string(lowers.size()) +
                 " layers make an option string over a page and this kernel lacks lowerdir+");
  // Before 5.10 the kernel refuses the option: an ordinary overlay then.
  if (volatile_upper && !upper.empty() &&
      ::mount("overlay", target.c_str(), "overlay", 0,
              (options + std::string(kVolatile)).c_str()) == 0)
    return ok_status();
  if (::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) != 0)
    return sys_error("mount overlay at " + target);
  return ok_status();
}

// Whether fsconfig takes overlay layers one at a time (lowerdir+, kernel 6.8+): asked once.
bool has_lowerdir_plus() {
  static const bool has = [] {
    UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
    return fs && ::fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", "/", 0) == 0;
  }();
  return has;
}

}  // namespace

Status bind_mount(const std::string& source, const std::string& target) {
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return sys_error("bind mount " + source + " at " + target);
  return ok_status();
}

bool overlay_stacks_limited(bool legacy) { return legacy || !has_lowerdir_plus(); }

bool overlay_mountable(const std::vector<std::string>& lowers, const std::string& upper,
                       const std::string& work, bool legacy) {
  return !overlay_stacks_limited(legacy) || fits_a_page(legacy_options(lowers, upper, work));
}

Status overlay_mount(const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& target, bool volatile_upper,
                     bool legacy) {
  if (overlay_stacks_limited(legacy))
    return overlay_mount_legacy(lowers, upper, work, target, volatile_upper);
  UniqueFd fs(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) return sys_error("mount overlay at " + target + ": fsopen");
  for (const auto& lower : lowers)
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "lowerdir+", lower.c_str(), 0) != 0)
      return fs_error("mount overlay at " + target + ": lower layer " + lower, fs.get());
  struct Option {
    const char* key;
    const char* value;
  };
  // index=off: the index would refuse an upper dir still referenced by a lazily detached
  // mount of the same volume (Concourse's EBUSY, #4964).
  for (const Option& o : {Option{"upperdir", upper.c_str()}, Option{"workdir", work.c_str()},
                          Option{"index", "off"}}) {
    if (!*o.value) continue;  // no upper: read-only
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, o.key, o.value, 0) != 0)
      return fs_error("mount overlay at " + target + ": " + o.key + " " + o.value, fs.get());
  }
  // A kernel without the option refuses it: an ordinary overlay then, and the refusal read
  // from the context's log so that it does not show in a later, unrelated error.
  if (volatile_upper && !upper.empty() &&
      ::fsconfig(fs.get(), FSCONFIG_SET_FLAG, "volatile", nullptr, 0) != 0)
    (void)fs_context_log(fs.get());
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return fs_error("mount overlay at " + target, fs.get());
  UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, 0));
  if (!mnt) return fs_error("mount overlay at " + target + ": fsmount", fs.get());
  if (::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return sys_error("mount overlay at " + target + ": move_mount");
  return ok_status();
}

Status clear_volatile_mark(const std::string& work) {
  // Overlay leaves work/incompat/volatile/dirty (a file) in its own work dir.
  std::string mark = work + "/work/incompat/volatile";
  if (::unlink((mark + "/dirty").c_str()) != 0 && errno != ENOENT)
    return sys_error("clear volatile mark: unlink " + mark + "/dirty");
  for (const std::string& dir : {mark, work + "/work/incompat"})
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY)
      return sys_error("clear volatile mark: rmdir " + dir);
  return ok_status();
}

Status unmount(const std::string& target) {
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL &&
      errno != ENOENT)
    return sys_error("unmount " + target);
  return ok_status();
}

Status unmount_under(const std::string& prefix) {
  auto mounts = read_mountinfo();
  if (!mounts) return std::move(mounts).error().wrap("unmount under " + prefix);
  std::vector<std::string> targets;
  for (const MountPoint& m : *mounts)
    if (m.path == prefix || m.path.rfind(prefix + "/", 0) == 0) targets.push_back(m.path);
  std::sort(targets.begin(), targets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& t : targets) TARMAC_RETURN_IF_ERROR(unmount(t), "unmount under " + prefix);
  return ok_status();
}

Result<bool> is_mount_point(const std::string& path) {
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, 0, &stx) != 0)
    return sys_error("statx " + path);
  if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return Error("statx " + path + ": kernel does not report mount roots");
  return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

bool overlay_supported(const std::string& dir) {
  auto scratch = dir + "/.overlay-check";
  (void)fs::remove_all(scratch);
  bool ok = fs::make_dirs(scratch + "/lower").ok() && fs::make_dirs(scratch + "/upper").ok() &&
            fs::make_dirs(scratch + "/work").ok() && fs::make_dirs(scratch + "/merged").ok() &&
            overlay_mount({scratch + "/lower"}, scratch + "/upper", scratch + "/work",
                          scratch + "/merged")
                .ok();
  if (ok) (void)unmount(scratch + "/merged");
  (void)fs::remove_all(scratch);
  return ok;
}

}  // namespace tarmac::baggageclaim
