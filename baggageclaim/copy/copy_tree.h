#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace tarmac::baggageclaim {

struct CopyOptions {
  // Follow symlinks in the source (import's follow_symlinks); off = copy them as links.
  bool follow_symlinks = false;
  // Added to every uid/gid when chowning the copy (moving a tree between privileged and
  // unprivileged storage without an idmapped mount); 0 keeps them.
  int64_t id_offset = 0;
};

// Copies the tree at `src` into the existing empty directory `dst` (the root's own mode,
// owner, times and xattrs included): regular files (copy_file_range, holes kept with
// SEEK_DATA/SEEK_HOLE), directories, symlinks, hardlinks (kept as links within the copy),
// fifos, sockets and device nodes (mknod); modes incl. setuid/setgid/sticky, owners,
// mtimes/atimes, xattrs (every namespace root may copy, e.g. user., trusted.,
// security.capability). Does not descend into mount points below src. Errors name the
// path and the step: `copy "a/b": read xattr "user.x": ... (errno N)`.
Status copy_tree(const std::string& src, const std::string& dst, const CopyOptions& options = {});

}  // namespace tarmac::baggageclaim
