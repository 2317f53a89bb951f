#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tarmac::baggageclaim::tar {

enum class Encoding { kRaw, kGzip, kZstd };

// "raw", "gzip" or "zstd" (also "" = gzip, Concourse's default); anything else is an error
// naming the value and the accepted ones.
Result<Encoding> parse_encoding(std::string_view name);
std::string_view encoding_name(Encoding encoding);

// Pulls the next chunk of the encoded stream; an empty view means end of stream. The view
// stays valid until the next call.
using ReadFn = std::function<Result<std::string_view>()>;
// Pushes a chunk of the encoded stream to the consumer.
using WriteFn = std::function<Status(std::string_view)>;

struct ExtractOptions {
  Encoding encoding = Encoding::kGzip;
  // Most bytes of file content the archive may write (0 = no limit). Counted on the
  // decoded content, so a small compressed bomb is stopped too. Going over is an error
  // whose errnum is EFBIG.
  uint64_t max_bytes = 0;
  // Device nodes (char/block) are refused unless the volume is privileged.
  bool allow_devices = false;
  // Added to every uid/gid of the archive before chown (an unprivileged volume stored with
  // host ids); ids that land outside [0, 2^32-2] are refused.
  int64_t id_offset = 0;
  // Off: entries keep the extracting user's ids (as tar does for a user who is not root,
  // who could not chown them anyway).
  bool keep_owners = true;
  // Threads that write the files' content and attributes while the stream is read on. One
  // is fastest on two cores (bench/volume_bench: 156 ms against 221 with two and 422 with
  // three, the reading thread being the third).
  int writer_threads = 1;
  // Tests: called before each change the merge makes, to cut it off where a crash could.
  std::function<void()> merge_step;
};

// Extracts a tar stream into the directory `subpath` (created if missing, "" or "." = the
// root) beneath the directory `root_fd` without ever resolving outside it.
//
// The stream goes to a staging directory at the root of `root_fd`
// (".baggageclaim-stream-in.<random>") first, and only a complete, accepted stream is
// merged into place (directories merged, other entries renamed over what was there). A
// refused or broken stream, or a crash of the caller, leaves the existing content as it
// was; recover_streams() clears what a crash left, or finishes a merge it cut off. A merge
// that fails while this process runs (no space, a permission) leaves what it moved, as
// tar -x would, and returns why.
//
// Refused, with an error naming the entry: absolute names, ".." components, entries whose
// parent path crosses a symlink, hardlinks whose target is not an earlier regular entry of
// the same archive (or escapes), device nodes unless allowed, ids out of range, anything
// over max_bytes. Symlinks themselves may point anywhere (images have absolute links);
// they are never followed during extraction. Modes, owners, mtimes, xattrs (user.* and
// security.capability), hardlinks, symlinks, fifos and sparse files are restored.
Status stream_in(int root_fd, const std::string& subpath, const ReadFn& read,
                 const ExtractOptions& options);

// At start, for what a crash (kill -9 included) cut off at the root of `root_fd`: a stream
// still being extracted is dropped; one being merged is finished, so a volume holds none of
// a stream or all of it. An error (a merge that fails again) means the volume holds neither.
Status recover_streams(int root_fd);

struct ArchiveOptions {
  Encoding encoding = Encoding::kGzip;
  // Subtracted from every uid/gid before it goes into a header (the inverse of
  // ExtractOptions::id_offset); ids below the offset become 65534, the kernel's overflow id.
  int64_t id_offset = 0;
  // Set: only entries it accepts go in ("./a/b", whether a directory); a refused directory
  // is skipped whole. For `fly execute`, which sends what git would (.gitignore respected).
  std::function<bool(const std::string& name, bool is_dir)> include;
};

// Archives `subpath` beneath `root_fd` (a directory: its content with names relative to
// it, as Concourse's stream-out; a file: that one file under its base name) as a tar
// stream. Never follows a symlink, neither in subpath nor in the tree.
Status stream_out(int root_fd, const std::string& subpath, const WriteFn& write,
                  const ArchiveOptions& options);

}  // namespace tarmac::baggageclaim::tar
