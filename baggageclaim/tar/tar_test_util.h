#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <string>
#include <utility>
#include <vector>

#include "baggageclaim/tar/tar.h"

namespace tarmac::baggageclaim::tar::testing {

// One entry of a hand-made archive: anything libarchive will write, hostile included.
struct Entry {
  std::string name;
  mode_t type = AE_IFREG;
  std::string data;
  std::string link;      // symlink target
  std::string hardlink;  // hardlink target
  mode_t perm = 0644;
  int64_t uid = 0, gid = 0;
  unsigned rdev_major = 0, rdev_minor = 0;
  int64_t declared_size = -1;  // a size header that lies (-1: data's size)
  // Regions (offset, length) of a sparse entry; its size is then declared_size and `data`
  // what a read of the file gives up to the last region's end (libarchive skips the holes).
  std::vector<std::pair<int64_t, int64_t>> sparse;
};

// A pax tar of `entries`, with `filter` ("none", "gzip", "zstd").
inline std::string make_archive(const std::vector<Entry>& entries,
                                const std::string& filter = "none") {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (filter == "gzip") archive_write_add_filter_gzip(a);
  if (filter == "zstd") archive_write_add_filter_zstd(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* d, const void* buf, size_t len) -> la_ssize_t {
        static_cast<std::string*>(d)->append(static_cast<const char*>(buf), len);
        return static_cast<la_ssize_t>(len);
      },
      nullptr);
  for (const auto& e : entries) {
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.name.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.perm);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, 1700000000, 0);
    if (!e.link.empty()) archive_entry_set_symlink(ae, e.link.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ae, e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(ae, e.rdev_major);
      archive_entry_set_rdevminor(ae, e.rdev_minor);
    }
    if (e.type == AE_IFREG && e.hardlink.empty())
      archive_entry_set_size(
          ae, e.declared_size >= 0 ? e.declared_size : static_cast<int64_t>(e.data.size()));
    for (const auto& [offset, length] : e.sparse)
      archive_entry_sparse_add_entry(ae, offset, length);
    archive_write_header(a, ae);
    if (!e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// A ReadFn over `data` in chunks of `chunk` bytes.
inline ReadFn read_from(const std::string& data, size_t chunk = 4096) {
  auto offset = std::make_shared<size_t>(0);
  return [&data, offset, chunk]() -> Result<std::string_view> {
    size_t n = std::min(chunk, data.size() - *offset);
    std::string_view v(data.data() + *offset, n);
    *offset += n;
    return v;
  };
}

}  // namespace tarmac::baggageclaim::tar::testing
