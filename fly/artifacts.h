#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "fly/client.h"

namespace tarmac::fly {

// What git would send from `dir`: tracked files that still exist and untracked ones not
// ignored (paths relative to dir). Nullopt when dir is not in a git work tree (or git is
// missing): then everything goes, as in Concourse.
std::optional<std::vector<std::string>> git_files(const std::string& dir);

// An archive filter (tar::ArchiveOptions::include) that keeps exactly `files`, the
// directories leading to them, and whole trees for listed directories (submodules).
std::function<bool(const std::string& name, bool is_dir)> only(
    const std::vector<std::string>& files);

struct Upload {
  std::string dir;
  bool include_ignored = false;
  std::string platform;
  std::vector<std::string> tags;
};

// Uploads `dir` as a gzipped tar, streamed while it is read; returns the artifact's id.
Result<int64_t> upload_input(Client& client, const Upload& upload);

// Streams the artifact into `dest` (created if missing), owners kept only when run as root.
Status download_output(Client& client, int64_t artifact_id, const std::string& dest);

}  // namespace tarmac::fly
