#include "baggageclaim/tar/merge.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "baggageclaim/tar/beneath.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {
namespace {

Status copy_dir_attrs(int from, int to, const std::string& name) {
  struct stat st;
  if (::fstat(from, &st) != 0) return sys_error("merge \"" + name + "\": stat");
  if (::fchown(to, st.st_uid, st.st_gid) != 0) return sys_error("merge \"" + name + "\": chown");
  if (::fchmod(to, st.st_mode & 07777) != 0) return sys_error("merge \"" + name + "\": chmod");
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(to, times) != 0) return sys_error("merge \"" + name + "\": utimes");
  return ok_status();
}

Status merge_dir(int src, int dst, const std::string& rel, const MergeStep& step) {
  auto names = fs::list_dir_at(src);
  if (!names.ok()) return std::move(names).error().wrap("merge \"" + rel + "\"");
  for (const auto& name : *names) {
    std::string path = rel.empty() ? name : rel + "/" + name;
    struct stat s, t;
    if (::fstatat(src, name.c_str(), &s, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("merge \"" + path + "\": stat");
    bool target_exists = ::fstatat(dst, name.c_str(), &t, AT_SYMLINK_NOFOLLOW) == 0;
    if (S_ISDIR(s.st_mode) && target_exists && S_ISDIR(t.st_mode)) {
      UniqueFd sub_src(
          ::openat(src, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd sub_dst(
          ::openat(dst, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub_src || !sub_dst) return sys_error("merge \"" + path + "\": open");
      TARMAC_TRY(merge_dir(sub_src.get(), sub_dst.get(), path, step));
      TARMAC_TRY(copy_dir_attrs(sub_src.get(), sub_dst.get(), path));
      continue;
    }
    // rename(2) replaces a non-directory atomically; a directory in the way goes first.
    if (target_exists && (S_ISDIR(t.st_mode) || S_ISDIR(s.st_mode))) {
      if (step) step();
      TARMAC_RETURN_IF_ERROR(remove_at(dst, name), "merge \"" + path + "\"");
    }
    if (step) step();
    if (::renameat(src, name.c_str(), dst, name.c_str()) != 0)
      return sys_error("merge \"" + path + "\": rename");
  }
  return ok_status();
}

}  // namespace

Status merge_tree(int src_fd, int dst_fd, const MergeStep& step) {
  return merge_dir(src_fd, dst_fd, "", step);
}

}  // namespace tarmac::baggageclaim::tar
