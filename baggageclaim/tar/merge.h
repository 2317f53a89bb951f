#pragma once

#include <functional>

#include "common/result.h"

namespace tarmac::baggageclaim::tar {

// Moves everything in the directory `src_fd` into `dst_fd` (same filesystem): directories
// present on both sides merge recursively and take src's mode, owner and times; anything
// else is renamed over what dst had (a directory that a non-directory replaces is removed).
// Never follows a symlink on either side. Run again on what an interrupted run left in src,
// it ends as the whole run would have.
//
// `step`, when set, is called before each removal or rename (tests: to cut a merge off
// where a crash could).
using MergeStep = std::function<void()>;
Status merge_tree(int src_fd, int dst_fd, const MergeStep& step = {});

}  // namespace tarmac::baggageclaim::tar
