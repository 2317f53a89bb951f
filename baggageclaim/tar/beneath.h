#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {

// The components of a relative path in an archive or a request: "./a//b/" → {"a", "b"}.
// Absolute paths and ".." components are errors (naming `what` and the path).
Result<std::vector<std::string>> split_relative(const std::string& path, const std::string& what);

// Opens the directory `components` beneath `dir_fd` without crossing a symlink or leaving it;
// with `create`, makes missing directories (0755) on the way.
Result<UniqueFd> open_dir_beneath(int dir_fd, const std::vector<std::string>& components,
                                  bool create, const std::string& what);

// rm -rf of `name` in `dir_fd` (never following symlinks).
Status remove_at(int dir_fd, const std::string& name);

}  // namespace tarmac::baggageclaim::tar
