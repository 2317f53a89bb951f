#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::baggageclaim {

// A plain (non-recursive) bind mount of `source` at `target`.
Status bind_mount(const std::string& source, const std::string& target);

// An overlay at `target`; `lowers` top-most first. An empty `upper` (and `work`) makes it a
// read-only overlay of the lowers alone, which the kernel wants two or more of. Uses fsconfig's
// "lowerdir+" (no limit on the total length of the paths) and falls back to mount(2)'s option
// string on kernels without it.
//
// `volatile_upper`: mounted with overlay's "volatile" where the kernel has it (5.10+): no sync
// reaches the upper filesystem, so neither a process's fsync nor the unmount waits for writeback of
// the whole filesystem (every dirty page on it, not only this overlay's). Overlay then refuses to
// mount the same work dir again until its work/incompat/volatile is removed, which is safe only
// while nothing written can have been lost, i.e. unless the host went down (see
// clear_volatile_mark).
//
// `legacy`: mount(2)'s option string even where lowerdir+ exists, as a kernel before 6.8 does
// (tests).
Status overlay_mount(const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& target,
                     bool volatile_upper = false, bool legacy = false);
// Whether overlay_mount can mount these layers: any number with lowerdir+, else (and with
// `legacy`) only as many as make an option string under a page, about 50 of a store's.
bool overlay_mountable(const std::vector<std::string>& lowers, const std::string& upper,
                       const std::string& work, bool legacy = false);
// Whether overlay_mountable can say no: only without lowerdir+ (or with `legacy`).
bool overlay_stacks_limited(bool legacy = false);

// Removes the mark a volatile overlay leaves in its work dir `work`.
Status clear_volatile_mark(const std::string& work);

// Lazily detaches whatever is mounted at `target`; nothing mounted is not an error.
Status unmount(const std::string& target);

// Lazily detaches every mount at or below `prefix`, deepest first.
Status unmount_under(const std::string& prefix);

// True if `path` is the root of a mount.
Result<bool> is_mount_point(const std::string& path);

// Whether this kernel and the filesystem of `dir` can stack overlays (checked by mounting one
// in a scratch directory under `dir`).
bool overlay_supported(const std::string& dir);

}  // namespace tarmac::baggageclaim
