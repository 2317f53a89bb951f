#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "baggageclaim/tar/beneath.h"
#include "baggageclaim/tar/tar.h"
#include "common/fs.h"

namespace tarmac::baggageclaim::tar {
namespace {

// Collects libarchive's small writes into big chunks for the consumer (one gRPC message
// each).
struct Sink {
  const WriteFn* write;
  std::string buffer;
  std::optional<Error> error;
  static constexpr size_t kChunk = 1 << 20;

  bool flush() {
    if (buffer.empty() || error) return !error;
    if (auto s = (*write)(buffer); !s.ok()) error = std::move(s).error();
    buffer.clear();
    return !error;
  }
};

la_ssize_t write_callback(struct archive* a, void* data, const void* buf, size_t len) {
  auto* sink = static_cast<Sink*>(data);
  sink->buffer.append(static_cast<const char*>(buf), len);
  if (sink->buffer.size() >= Sink::kChunk && !sink->flush()) {
    archive_set_error(a, EIO, "%s", sink->error->what().c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(len);
}

constexpr int64_t kOverflowId = 65534;

class Archiver {
 public:
  Archiver(struct archive* a, Sink& sink, const ArchiveOptions& options)
      : a_(a), sink_(sink), options_(options), resolver_(archive_entry_linkresolver_new()) {
    archive_entry_linkresolver_set_strategy(resolver_, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  }
  ~Archiver() { archive_entry_linkresolver_free(resolver_); }

  // `name` in the archive for the node `leaf` of directory `dir`.
  Status add(int dir, const std::string& leaf, const std::string& name) {
    struct stat st;
    if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("stream out \"" + name + "\": stat");
    if (S_ISSOCK(st.st_mode)) return ok_status();
    if (options_.include && name != "./" && !options_.include(name, S_ISDIR(st.st_mode)))
      return ok_status();
    // An id the mapping does not cover reads as the kernel's overflow id, as a container
    // would see it.
    int64_t uid = int64_t{st.st_uid} - options_.id_offset;
    int64_t gid = int64_t{st.st_gid} - options_.id_offset;
    if (uid < 0) uid = kOverflowId;
    if (gid < 0) gid = kOverflowId;
    UniqueFd fd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      fd.reset(
          ::openat(dir, leaf.c_str(),
                   O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0)));
      if (!fd) return sys_error("stream out \"" + name + "\": open");
    }
    struct archive_entry* e = archive_entry_new();
    std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> owned(e,
                                                                               archive_entry_free);
    archive_entry_copy_stat(e, &st);
    archive_entry_set_uid(e, uid);
    archive_entry_set_gid(e, gid);
    archive_entry_copy_pathname(e, name.c_str());
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(dir, leaf.c_str(), target.data(), target.size());
      if (n < 0) return sys_error("stream out \"" + name + "\": readlink");
      target.resize(static_cast<size_t>(n));
      archive_entry_copy_symlink(e, target.c_str());
    }
    if (fd) TARMAC_TRY(add_xattrs(fd.get(), e, name));

    // Hardlinks: the first one carries the data, later ones name it.
    struct archive_entry* spare = nullptr;
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      owned.release();
      archive_entry_linkify(resolver_, &e, &spare);
      owned.reset(e);
      if (!e) return ok_status();  // held back by the resolver (not for pax)
    }
    if (archive_write_header(a_, e) < ARCHIVE_WARN) return failure("stream out \"" + name + "\"");
    if (S_ISREG(st.st_mode) && archive_entry_size(e) > 0) TARMAC_TRY(copy_data(fd.get(), name));
    if (spare) archive_entry_free(spare);
    if (S_ISDIR(st.st_mode)) TARMAC_TRY(add_children(fd.get(), name));
    return ok_status();
  }

  Status add_children(int dir, const std::string& name) {
    auto names = fs::list_dir_at(dir);
    if (!names.ok()) return std::move(names).error().wrap("stream out \"" + name + "\"");
    std::string prefix = name.back() == '/' ? name : name + "/";
    for (const auto& n : *names) TARMAC_TRY(add(dir, n, prefix + n));
    return ok_status();
  }

 private:
  Status failure(const std::string& what) {
    if (sink_.error) return sink_.error->wrap(what);
    const char* why = archive_error_string(a_);
    return Error(what + ": " + (why ? why : "archive error"));
  }

  Status copy_data(int fd, const std::string& name) {
    static thread_local std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return sys_error("stream out \"" + name + "\": read");
      }
      if (n == 0) return ok_status();
      if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0)
        return failure("stream out \"" + name + "\"");
    }
  }

  Status add_xattrs(int fd, struct archive_entry* e, const std::string& name) {
    char names[16 << 10];
    ssize_t len = ::flistxattr(fd, names, sizeof names);
    if (len <= 0) return ok_status();
    std::string value;
    for (ssize_t off = 0; off < len; off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
      std::string_view key = names + off;
      if (key.rfind("user.", 0) != 0 && key != "security.capability") continue;
      ssize_t vlen = ::fgetxattr(fd, names + off, nullptr, 0);
      if (vlen < 0) continue;
      value.resize(static_cast<size_t>(vlen));
      vlen = ::fgetxattr(fd, names + off, value.data(), value.size());
      if (vlen < 0) continue;
      archive_entry_xattr_add_entry(e, names + off, value.data(), static_cast<size_t>(vlen));
    }
    return ok_status();
  }

  struct archive* a_;
  Sink& sink_;
  const ArchiveOptions& options_;
  struct archive_entry_linkresolver* resolver_;
};

}  // namespace

Status stream_out(int root_fd, const std::string& subpath, const WriteFn& write,
                  const ArchiveOptions& options) {
  auto parts = split_relative(subpath, "stream out: path");
  if (!parts.ok()) return std::move(parts).error();
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                                   archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  switch (options.encoding) {
    case Encoding::kGzip:
      archive_write_add_filter_gzip(a.get());
      break;
    case Encoding::kZstd:
      archive_write_add_filter_zstd(a.get());
      break;
    case Encoding::kRaw:
      archive_write_add_filter_none(a.get());
      break;
  }
  if (options.encoding == Encoding::kGzip)
    archive_write_set_filter_option(a.get(), "gzip", "compression-level", "1");
  // The sink batches; no padding of the last block beyond tar's own.
  archive_write_set_bytes_in_last_block(a.get(), 1);
  Sink sink{&write, {}, std::nullopt};
  if (archive_write_open(a.get(), &sink, nullptr, write_callback, nullptr) != ARCHIVE_OK)
    return Error(std::string("stream out: ") + archive_error_string(a.get()));

  Archiver archiver(a.get(), sink, options);
  Status added;
  if (parts->empty()) {
    added = archiver.add(root_fd, ".", "./");
  } else {
    std::string leaf = parts->back();
    parts->pop_back();
    auto parent = open_dir_beneath(root_fd, *parts, false, "stream out: path \"" + subpath + "\"");
    if (!parent.ok()) return std::move(parent).error();
    struct stat st;
    if (::fstatat(parent->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error("stream out: path \"" + subpath + "\"");
    if (S_ISLNK(st.st_mode))
      return Error("stream out: path \"" + subpath + "\": refused: a symlink", EINVAL);
    // A directory streams its content (names relative to it, as `tar -C dir -c .`); a file
    // streams itself under its base name.
    added = S_ISDIR(st.st_mode) ? archiver.add(parent->get(), leaf, "./")
                                : archiver.add(parent->get(), leaf, leaf);
  }
  if (!added.ok()) return added;
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (sink.error) return sink.error->wrap("stream out");
    return Error(std::string("stream out: ") + archive_error_string(a.get()));
  }
  if (!sink.flush()) return sink.error->wrap("stream out");
  return ok_status();
}

}  // namespace tarmac::baggageclaim::tar
