#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>

#include "baggageclaim/tar/merge.h"
#include "common/result.h"

namespace tarmac::baggageclaim::tar {

// A stream in goes through three names at the root of its volume, so that a crash at any
// point leaves either none of it or, after recover_streams(), all of it:
//   .baggageclaim-stream-in.<id>   the extraction; a crash here drops the stream
//   .baggageclaim-merge-plan.<id>  where the stream goes and its root entry's attributes,
//                                  written before the extraction is renamed to
//   .baggageclaim-merge.<id>       whose entries are being moved into place; a crash here
//                                  is finished on recovery, as the merge would have.
std::string new_stream_id();  // "" if the kernel gave no random bytes
std::string staging_dir_name(const std::string& id);

// The stream's own "./" entry, applied to its destination once everything is in.
struct RootEntry {
  uid_t uid = 0;
  gid_t gid = 0;
  bool owners = true;  // false: the destination keeps its owner
  mode_t mode = 0755;
  struct timespec mtime {};
};

struct MergePlan {
  std::string subpath;  // the destination beneath the root ("" or "." = the root)
  std::optional<RootEntry> root;
};

// Merges the complete extraction `staging_dir_name(id)` into `dest_fd` (the plan's
// subpath beneath `root_fd`) by way of the plan and merge names, then removes both.
Status commit_stream(int root_fd, const std::string& id, const MergePlan& plan, int dest_fd,
                     const MergeStep& step);

// The plan file's text, and back (errors name the field).
std::string encode_plan(const MergePlan& plan);
Result<MergePlan> decode_plan(const std::string& text);

}  // namespace tarmac::baggageclaim::tar
