#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {

// What an extracted regular file gets once its content is in.
struct FileAttributes {
  int64_t size = 0;  // the entry's size: a trailing hole (or an empty entry) is set with it
  std::vector<std::pair<std::string, std::string>> xattrs;
  bool chown = true;
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0644;
  struct timespec mtime {};
};

struct FileWritersOptions {
  int threads = 1;
  size_t max_buffered_bytes = 16 << 20;  // copies of content waiting for a writer
  size_t max_open_files = 8;             // files handed over and not yet closed
};

// Writes the content and attributes of extracted files on threads of their own, so that the
// thread that reads the archive (and the network or pipe behind it) keeps reading while the
// page cache takes the data: a stream in then costs about the larger of the two, not their
// sum. Each file goes to one writer, in order (content, then size, owner, xattrs, mode,
// times, close: a write or a chown would clear security.capability, a chown setuid); files
// are spread over the writers by the bytes they have queued.
//
// The writers take on the starting thread's filesystem ids and capabilities (an unprivileged
// volume is written under its mapped ids). The first error of any file is kept and returned
// by every later call; after it, queued work is dropped and files are only closed.
class FileWriters {
 public:
  struct File;

  static Result<std::unique_ptr<FileWriters>> start(const FileWritersOptions& options);
  // Waits for the writers after dropping what is still queued; call finish() to keep it.
  ~FileWriters();
  FileWriters(const FileWriters&) = delete;
  FileWriters& operator=(const FileWriters&) = delete;

  // Takes an open file (`name` is for errors); its content and close follow. Waits while
  // max_open_files are out.
  Result<File*> add(UniqueFd fd, std::string name);
  // Queues a copy of `data` for `offset` of the file. Waits while max_buffered_bytes are out.
  Status write(File* file, std::string_view data, int64_t offset);
  // Queues the file's attributes and its close; `file` is not to be used after.
  Status close(File* file, FileAttributes attributes);
  // Waits for everything queued; the first error, naming the entry.
  Status finish();

 private:
  struct Impl;
  explicit FileWriters(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tarmac::baggageclaim::tar
