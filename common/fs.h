#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tarmac::fs {

// The whole content of `path`.
Result<std::string> read_file(const std::string& path);
// The same for `name` in the directory `dir_fd`, not following a symlink there.
Result<std::string> read_file_at(int dir_fd, const std::string& name);

// Writes `content` to `path` (truncating), without a temporary file: for control files
// such as cgroup knobs and /proc/<pid>/uid_map that must be written with one write(2). A new
// file gets `mode`.
Status write_file(const std::string& path, std::string_view content, mode_t mode = 0644);
// Creates `name` in the directory `dir_fd` with `content`; an error if anything is there.
Status write_new_file_at(int dir_fd, const std::string& name, std::string_view content,
                         mode_t mode);

// Replaces `path` with `content` atomically: a reader sees the old or the new file, never
// half of one. `durable` adds an fsync so that holds across a power loss too; without it,
// it holds across the writer's crash (the page cache survives a process).
Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode = 0644,
                         bool durable = true);

// mkdir -p with `mode` for the directories it creates.
// Writes all of `data` at `offset` of `fd` (pwrite until done, EINTR retried); errors say
// "write" and the errno, for the caller to name the file.
Status pwrite_all(int fd, std::string_view data, off_t offset);

Status make_dirs(const std::string& path, mode_t mode = 0755);

// rm -rf that stays on one filesystem and never follows symlinks.
Status remove_all(const std::string& path);

bool exists(const std::string& path);

// Names in `dir` (no "." or ".."), sorted.
Result<std::vector<std::string>> list_dir(const std::string& dir);
// The names in the directory `dir_fd` (left open), but "." and "..", in the directory's order.
Result<std::vector<std::string>> list_dir_at(int dir_fd);

// A fresh directory under $TMPDIR (or /tmp) named prefix-XXXXXX.
Result<std::string> make_temp_dir(std::string_view prefix);

}  // namespace tarmac::fs
