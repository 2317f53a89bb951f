#include "baggageclaim/tar/staging.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <string_view>
#include <vector>

#include "baggageclaim/tar/beneath.h"
#include "baggageclaim/tar/tar.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {
namespace {

constexpr std::string_view kStagingPrefix = ".baggageclaim-stream-in.";
constexpr std::string_view kPlanPrefix = ".baggageclaim-merge-plan.";
constexpr std::string_view kMergePrefix = ".baggageclaim-merge.";
constexpr std::string_view kPlanHeader = "tarmac stream plan 1\n";

std::string plan_name(const std::string& id) { return std::string(kPlanPrefix) + id; }
std::string merge_name(const std::string& id) { return std::string(kMergePrefix) + id; }

bool starts_with(std::string_view s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

// Whether `name` in `dir_fd` is of type `type` (S_IFDIR, S_IFREG), not following a symlink.
bool is_at(int dir_fd, const std::string& name, mode_t type) {
  struct stat st;
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         (st.st_mode & S_IFMT) == type;
}

// The id part of one of our names: exactly what new_stream_id makes. The names sit at the
// root of a volume a container writes to; anything else with the prefix is the container's.
std::optional<std::string> id_of(std::string_view name, std::string_view prefix) {
  if (!starts_with(name, prefix)) return std::nullopt;
  std::string_view id = name.substr(prefix.size());
  if (id.size() != 16) return std::nullopt;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  return std::string(id);
}

// The merge itself, from wherever a crash left it: everything still under the merge name
// moves into place and the root entry's attributes follow; then the plan goes, and with it
// any reason to run this again; then the merge dir (recovery sweeps one left without a plan).
Status finish(int root_fd, const std::string& id, const MergePlan& plan, int dest_fd,
              const MergeStep& step) {
  UniqueFd opened;
  if (dest_fd < 0) {
    auto parts = split_relative(plan.subpath, "path");
    if (!parts.ok()) return std::move(parts).error();
    auto dest = open_dir_beneath(root_fd, *parts, /*create=*/true, "path \"" + plan.subpath + "\"");
    if (!dest.ok()) return std::move(dest).error();
    opened = std::move(*dest);
    dest_fd = opened.get();
  }
  auto src = open_dir_beneath(root_fd, {merge_name(id)}, false, "merge dir");
  if (!src.ok()) return std::move(src).error();
  TARMAC_TRY(merge_tree(src->get(), dest_fd, step));
  if (step) step();
  if (const auto& root = plan.root) {
    if (root->owners && ::fchown(dest_fd, root->uid, root->gid) != 0)
      return sys_error("entry \"./\": chown to " + std::to_string(root->uid) + ":" +
                       std::to_string(root->gid));
    if (::fchmod(dest_fd, root->mode & 07777) != 0) return sys_error("entry \"./\": chmod");
    struct timespec times[2] = {root->mtime, root->mtime};
    (void)::futimens(dest_fd, times);
  }
  if (step) step();
  if (::unlinkat(root_fd, plan_name(id).c_str(), 0) != 0)
    return sys_error("remove " + plan_name(id));
  if (step) step();
  return remove_at(root_fd, merge_name(id));
}

// The plan first, for the same reason.
void discard(int root_fd, const std::string& id) {
  (void)::unlinkat(root_fd, plan_name(id).c_str(), 0);
  (void)remove_at(root_fd, merge_name(id));
  (void)remove_at(root_fd, staging_dir_name(id));
}

}  // namespace

std::string new_stream_id() {
  unsigned char b[8];
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) return "";
  std::string s;
  for (unsigned char c : b) {
    s += "0123456789abcdef"[c >> 4];
    s += "0123456789abcdef"[c & 15];
  }
  return s;
}

std::string staging_dir_name(const std::string& id) { return std::string(kStagingPrefix) + id; }

std::string encode_plan(const MergePlan& plan) {
  std::string text(kPlanHeader);
  if (const auto& r = plan.root) {
    char line[160];
    std::snprintf(line, sizeof line, "root %u %u %d %o %" PRId64 " %ld\n", r->uid, r->gid,
                  r->owners ? 1 : 0, static_cast<unsigned>(r->mode & 07777),
                  static_cast<int64_t>(r->mtime.tv_sec), r->mtime.tv_nsec);
    text += line;
  } else {
    text += "root none\n";
  }
  // The path runs to the end of the file: it may hold any byte but NUL.
  return text + "path " + plan.subpath;
}

Result<MergePlan> decode_plan(const std::string& text) {
  if (!starts_with(text, kPlanHeader))
    return Error("merge plan: first line is not \"" +
                     std::string(kPlanHeader.substr(0, kPlanHeader.size() - 1)) + "\"",
                 EINVAL);
  size_t root_end = text.find('\n', kPlanHeader.size());
  if (root_end == std::string::npos) return Error("merge plan: no path line", EINVAL);
  std::string root = text.substr(kPlanHeader.size(), root_end - kPlanHeader.size());
  MergePlan plan;
  if (root != "root none") {
    unsigned uid, gid, mode;
    int owners, used = 0;
    int64_t sec;
    long nsec;
    if (std::sscanf(root.c_str(), "root %u %u %d %o %" SCNd64 " %ld%n", &uid, &gid, &owners, &mode,
                    &sec, &nsec, &used) != 6 ||
        static_cast<size_t>(used) != root.size() || (owners != 0 && owners != 1) || mode > 07777 ||
        nsec < 0 || nsec > 999999999)
      return Error("merge plan: root line \"" + root +
                       "\" is not \"root none\" or \"root UID GID OWNERS MODE SEC NSEC\"",
                   EINVAL);
    plan.root = RootEntry{uid, gid, owners == 1, static_cast<mode_t>(mode), {sec, nsec}};
  }
  std::string_view rest(text);
  rest.remove_prefix(root_end + 1);
  if (!starts_with(rest, "path ")) return Error("merge plan: no path line", EINVAL);
  plan.subpath = std::string(rest.substr(5));
  return plan;
}

Status commit_stream(int root_fd, const std::string& id, const MergePlan& plan, int dest_fd,
                     const MergeStep& step) {
  Status s = fs::write_new_file_at(root_fd, plan_name(id), encode_plan(plan), 0600);
  if (s.ok() &&
      ::renameat(root_fd, staging_dir_name(id).c_str(), root_fd, merge_name(id).c_str()) != 0)
    s = sys_error("rename " + staging_dir_name(id) + " to " + merge_name(id));
  if (s.ok()) s = finish(root_fd, id, plan, dest_fd, step);
  // Failed while this process runs (no space, a permission): what moved stays, as with
  // tar -x, the caller hears why, and nothing is left for a recovery to try again.
  if (!s.ok()) discard(root_fd, id);
  return s;
}

Status recover_streams(int root_fd) {
  auto names = fs::list_dir_at(root_fd);
  if (!names.ok()) return std::move(names).error().wrap("recover streams");
  for (const auto& name : *names) {
    if (id_of(name, kStagingPrefix) && is_at(root_fd, name, S_IFDIR))
      TARMAC_RETURN_IF_ERROR(remove_at(root_fd, name), "recover streams");
    auto id = id_of(name, kPlanPrefix);
    if (!id || !is_at(root_fd, name, S_IFREG)) continue;
    if (!is_at(root_fd, merge_name(*id), S_IFDIR)) {
      // Cut off before its merge began.
      if (::unlinkat(root_fd, name.c_str(), 0) != 0)
        return sys_error("recover streams: remove " + name);
      continue;
    }
    auto text = fs::read_file_at(root_fd, name);
    auto plan = text.ok() ? decode_plan(*text) : Result<MergePlan>(std::move(text).error());
    Status s = plan.ok() ? finish(root_fd, *id, *plan, -1, {}) : Status(std::move(plan).error());
    if (!s.ok()) {
      discard(root_fd, *id);
      return std::move(s).error().wrap("recover streams: finish stream " + *id);
    }
  }
  // A merge dir without its plan: finished or discarded, and cut off while being removed.
  for (const auto& name : *names)
    if (id_of(name, kMergePrefix) && is_at(root_fd, name, S_IFDIR))
      TARMAC_RETURN_IF_ERROR(remove_at(root_fd, name), "recover streams");
  return ok_status();
}

}  // namespace tarmac::baggageclaim::tar
