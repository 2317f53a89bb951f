#pragma once

#include "common/result.h"

namespace tarmac::baggageclaim::tar {

// Moves everything in the directory `src_fd` into `dst_fd` (same filesystem): directories
// present on both sides merge recursively and take src's mode, owner and times; anything
// else is renamed over what dst had (a directory that a non-directory replaces is removed).
// Never follows a symlink on either side.
Status merge_tree(int src_fd, int dst_fd);

}  // namespace tarmac::baggageclaim::tar
