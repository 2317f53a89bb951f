#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "baggageclaim/tar/beneath.h"
#include "baggageclaim/tar/file_writers.h"
#include "baggageclaim/tar/staging.h"
#include "baggageclaim/tar/tar.h"

namespace tarmac::baggageclaim::tar {
namespace {

// Pulls from the caller's ReadFn for libarchive, keeping its error for the message.
struct Source {
  const ReadFn* read;
  std::optional<Error> error;
};

la_ssize_t read_callback(struct archive* a, void* data, const void** buffer) {
  auto* source = static_cast<Source*>(data);
  auto chunk = (*source->read)();
  if (!chunk.ok()) {
    source->error = std::move(chunk).error();
    archive_set_error(a, EIO, "%s", source->error->what().c_str());
    return -1;
  }
  *buffer = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

struct Metadata {
  std::string rel;  // relative to the staging dir; "" = the stream's root entry
  mode_t mode;
  struct timespec mtime;
  uid_t uid;
  gid_t gid;
};

class Extractor {
 public:
  Extractor(int staging_fd, const ExtractOptions& options, FileWriters& writers)
      : staging_(staging_fd), options_(options), writers_(writers) {}

  Status run(struct archive* a, Source& source) {
    struct archive_entry* entry;
    for (;;) {
      int r = archive_read_next_header(a, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return archive_failure(a, source, "read header");
      if (auto s = extract_entry(a, entry, source); !s.ok()) return s;
    }
    TARMAC_RETURN_IF_ERROR(writers_.finish(), "stream in");
    // Directories last, deepest first: their modes may forbid writing into them, and
    // writing into them changes their mtimes.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      if (it->rel.empty()) continue;
      auto s = apply_at(staging_, it->rel, *it, /*is_link=*/false);
      if (!s.ok()) return s;
    }
    return ok_status();
  }

  const std::optional<Metadata>& root_metadata() const { return root_; }

 private:
  Status archive_failure(struct archive* a, Source& source, const std::string& step) {
    if (source.error) return source.error->wrap("stream in: " + step);
    const char* why = archive_error_string(a);
    return Error("stream in: " + step + ": " + (why ? why : "broken archive"), EINVAL);
  }

  Result<std::pair<uid_t, gid_t>> ids(struct archive_entry* e, const std::string& name) {
    int64_t uid = archive_entry_uid(e) + options_.id_offset;
    int64_t gid = archive_entry_gid(e) + options_.id_offset;
    if (uid < 0 || gid < 0 || uid > 0xfffffffe || gid > 0xfffffffe)
      return Error("stream in: entry \"" + name + "\": refused: owner " +
                       std::to_string(archive_entry_uid(e)) + ":" +
                       std::to_string(archive_entry_gid(e)) + " out of the mapped range",
                   EINVAL);
    return std::pair<uid_t, gid_t>(static_cast<uid_t>(uid), static_cast<gid_t>(gid));
  }

  Status extract_entry(struct archive* a, struct archive_entry* e, Source& source) {
    const char* raw_name = archive_entry_pathname(e);
    std::string name = raw_name ? raw_name : "";
    auto parts = split_relative(name, "stream in: entry");
    if (!parts.ok()) return std::move(parts).error();
    auto owner = ids(e, name);
    if (!owner.ok()) return std::move(owner).error();
    mode_t type = archive_entry_filetype(e);
    Metadata meta{"", static_cast<mode_t>(archive_entry_perm(e)), {}, owner->first, owner->second};
    meta.mtime.tv_sec = archive_entry_mtime(e);
    meta.mtime.tv_nsec = archive_entry_mtime_nsec(e);
    if (parts->empty()) {
      // "./": the destination directory itself.
      if (type != AE_IFDIR)
        return Error("stream in: entry \"" + name + "\": refused: the root is not a directory",
                     EINVAL);
      root_ = meta;
      return ok_status();
    }
    std::string leaf = parts->back();
    parts->pop_back();
    std::string what = "stream in: entry \"" + name + "\"";
    std::string parent_rel;
    for (const auto& p : *parts) parent_rel += parent_rel.empty() ? p : "/" + p;
    meta.rel = parent_rel.empty() ? leaf : parent_rel + "/" + leaf;
    // Entries mostly come directory by directory: keep the last parent open. An entry that
    // replaces the cached directory or one above it makes the cache stale.
    if (cached_parent_ == meta.rel || cached_parent_.rfind(meta.rel + "/", 0) == 0 || !cached_fd_ ||
        cached_parent_ != parent_rel) {
      cached_fd_.reset();
      cached_parent_.clear();
    }
    if (!cached_fd_) {
      auto parent = open_dir_beneath(staging_, *parts, /*create=*/true, what);
      if (!parent.ok()) return std::move(parent).error();
      cached_fd_ = std::move(*parent);
      cached_parent_ = parent_rel;
    }
    int dir = cached_fd_.get();

    const char* hardlink = archive_entry_hardlink(e);
    if (hardlink) {
      auto target = split_relative(hardlink, what + ": hardlink target");
      if (!target.ok()) return std::move(target).error();
      std::string joined;
      for (const auto& p : *target) joined += (joined.empty() ? "" : "/") + p;
      if (!regular_files_.count(joined))
        return Error(what + ": refused: hardlink to \"" + hardlink +
                         "\", which is not an earlier regular file of this stream",
                     EINVAL);
      if (!retry_over(dir, leaf,
                      [&] { return ::linkat(staging_, joined.c_str(), dir, leaf.c_str(), 0); }))
        return sys_error(what + ": link");
      return ok_status();
    }

    switch (type) {
      case AE_IFDIR: {
        struct stat st;
        if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
          TARMAC_RETURN_IF_ERROR(clear(dir, leaf), what);
        if (::mkdirat(dir, leaf.c_str(), 0700) != 0 && errno != EEXIST)
          return sys_error(what + ": mkdir");
        dirs_.push_back(meta);
        return ok_status();
      }
      case AE_IFREG: {
        UniqueFd fd;
        if (!retry_over(dir, leaf, [&] {
              fd.reset(::openat(dir, leaf.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
              return fd ? 0 : -1;
            }))
          return sys_error(what + ": create");
        auto file = writers_.add(std::move(fd), name);
        if (!file.ok()) return std::move(file).error().wrap("stream in");
        TARMAC_RETURN_IF_ERROR(write_data(a, source, *file, name), "stream in");
        regular_files_.insert(meta.rel);
        FileAttributes attributes{archive_entry_size(e),
                                  xattrs(e),
                                  options_.keep_owners,
                                  meta.uid,
                                  meta.gid,
                                  meta.mode,
                                  meta.mtime};
        TARMAC_RETURN_IF_ERROR(writers_.close(*file, std::move(attributes)), "stream in");
        return ok_status();
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!retry_over(dir, leaf,
                        [&] { return ::symlinkat(target ? target : "", dir, leaf.c_str()); }))
          return sys_error(what + ": symlink");
        return apply_at(dir, leaf, meta, /*is_link=*/true);
      }
      case AE_IFIFO:
      case AE_IFCHR:
      case AE_IFBLK: {
        if (type != AE_IFIFO && !options_.allow_devices)
          return Error(what + ": refused: device node in an unprivileged volume", EINVAL);
        dev_t dev = makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (!retry_over(dir, leaf, [&] { return ::mknodat(dir, leaf.c_str(), type | 0600, dev); }))
          return sys_error(what + ": mknod");
        return apply_at(dir, leaf, meta, /*is_link=*/false);
      }
      case AE_IFSOCK:
        return ok_status();  // as tar: sockets are not restored
      default:
        return Error(what + ": refused: unknown file type " + std::to_string(type), EINVAL);
    }
  }

  // Makes room for `leaf`: whatever an earlier entry put there goes (tar's overwrite).
  Status clear(int dir, const std::string& leaf) { return remove_at(dir, leaf); }

  // Runs `make` (0 or -1 with errno); if the name is taken by an earlier entry, clears it and
  // runs it once more. False with errno set on failure.
  template <typename Make>
  bool retry_over(int dir, const std::string& leaf, Make make) {
    if (make() == 0) return true;
    if (errno != EEXIST) return false;
    if (Status s = clear(dir, leaf); !s.ok()) {
      errno = s.error().errnum() ? s.error().errnum() : EEXIST;
      return false;
    }
    return make() == 0;
  }

  // The entry's content to the writers, block by block as libarchive decodes it. Blocks come
  // with their offsets: the gaps of a sparse entry stay holes.
  Status write_data(struct archive* a, Source& source, FileWriters::File* file,
                    const std::string& name) {
    const void* buf;
    size_t len;
    la_int64_t offset;
    for (;;) {
      int r = archive_read_data_block(a, &buf, &len, &offset);
      if (r == ARCHIVE_EOF) return ok_status();
      if (r < ARCHIVE_WARN) return archive_failure(a, source, "entry \"" + name + "\": data");
      written_ += len;
      if (options_.max_bytes && written_ > options_.max_bytes)
        return Error("entry \"" + name + "\": the stream exceeds the limit of " +
                         std::to_string(options_.max_bytes) + " bytes",
                     EFBIG);
      TARMAC_TRY(
          writers_.write(file, std::string_view(static_cast<const char*>(buf), len), offset));
    }
  }

  // Only what a volume's owner could have set, plus file capabilities (images need them);
  // trusted.* and security.selinux would be the host's business.
  static std::vector<std::pair<std::string, std::string>> xattrs(struct archive_entry* e) {
    std::vector<std::pair<std::string, std::string>> out;
    if (archive_entry_xattr_reset(e) == 0) return out;
    const char* key;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
      std::string_view k = key;
      if (k.rfind("user.", 0) != 0 && k != "security.capability") continue;
      out.emplace_back(k, std::string(static_cast<const char*>(value), size));
    }
    return out;
  }

  Status apply_at(int dir, const std::string& leaf, const Metadata& m, bool is_link) {
    std::string what = "stream in: entry \"" + m.rel + "\"";
    if (options_.keep_owners &&
        ::fchownat(dir, leaf.c_str(), m.uid, m.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error(what + ": chown");
    if (!is_link && ::fchmodat(dir, leaf.c_str(), m.mode & 07777, 0) != 0)
      return sys_error(what + ": chmod");
    struct timespec times[2] = {m.mtime, m.mtime};
    if (::utimensat(dir, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error(what + ": utimes");
    return ok_status();
  }

  int staging_;
  const ExtractOptions& options_;
  FileWriters& writers_;
  uint64_t written_ = 0;
  std::vector<Metadata> dirs_;
  std::set<std::string> regular_files_;
  std::optional<Metadata> root_;
  std::string cached_parent_;
  UniqueFd cached_fd_;
};

// Everything of the stream in the staging dir; its "./" entry's attributes, if it had one.
Result<std::optional<Metadata>> extract_into(int staging_fd, const ReadFn& read,
                                             const ExtractOptions& options) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(),
                                                                  archive_read_free);
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  switch (options.encoding) {
    case Encoding::kGzip:
      archive_read_support_filter_gzip(a.get());
      break;
    case Encoding::kZstd:
      archive_read_support_filter_zstd(a.get());
      break;
    case Encoding::kRaw:
      break;
  }
  Source source{&read, std::nullopt};
  if (archive_read_open(a.get(), &source, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
    if (source.error) return source.error->wrap("stream in");
    const char* why = archive_error_string(a.get());
    return Error(std::string("stream in: not a ") + std::string(encoding_name(options.encoding)) +
                     " tar stream: " + (why ? why : "unrecognized"),
                 EINVAL);
  }
  // Started here, on the thread that holds the volume's filesystem ids, so that its threads
  // hold them too; gone before the caller removes a failed stream's staging dir.
  FileWritersOptions writer_options;
  writer_options.threads = options.writer_threads;
  auto writers = FileWriters::start(writer_options);
  if (!writers.ok()) return std::move(writers).error().wrap("stream in");
  Extractor extractor(staging_fd, options, **writers);
  TARMAC_TRY(extractor.run(a.get(), source));
  return extractor.root_metadata();
}

}  // namespace

Status stream_in(int root_fd, const std::string& subpath, const ReadFn& read,
                 const ExtractOptions& options) {
  auto parts = split_relative(subpath, "stream in: path");
  if (!parts.ok()) return std::move(parts).error();
  std::string id = new_stream_id();
  if (id.empty()) return sys_error("stream in: getrandom");
  std::string staging = staging_dir_name(id);
  if (::mkdirat(root_fd, staging.c_str(), 0700) != 0) return sys_error("stream in: staging dir");
  auto staging_fd = open_dir_beneath(root_fd, {staging}, false, "stream in: staging dir");
  auto dest = staging_fd.ok()
                  ? open_dir_beneath(root_fd, *parts, true, "stream in: path \"" + subpath + "\"")
                  : Result<UniqueFd>(staging_fd.error());
  Result<std::optional<Metadata>> root = dest.ok() ? extract_into(staging_fd->get(), read, options)
                                                   : Result<std::optional<Metadata>>(dest.error());
  if (!root.ok()) {
    (void)remove_at(root_fd, staging);
    return std::move(root).error();
  }
  MergePlan plan{subpath, std::nullopt};
  if (const auto& m = *root)
    plan.root = RootEntry{m->uid, m->gid, options.keep_owners, m->mode, m->mtime};
  TARMAC_RETURN_IF_ERROR(commit_stream(root_fd, id, plan, dest->get(), options.merge_step),
                         "stream in");
  return ok_status();
}

}  // namespace tarmac::baggageclaim::tar
