#include "baggageclaim/recycler.h"

#include <spdlog/spdlog.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fs.h"
#include "common/uuid.h"

namespace tarmac::baggageclaim {
namespace {

constexpr const char* kMetaFile = "meta.json";

// Removes every extended attribute of `dir` (overlay's own, ACLs, a container's): a
// directory mkdir made has none.
bool clear_xattrs(const std::string& dir) {
  ssize_t size = ::llistxattr(dir.c_str(), nullptr, 0);
  if (size < 0) return errno == ENOTSUP;
  if (size == 0) return true;
  std::string names(static_cast<size_t>(size), '\0');
  size = ::llistxattr(dir.c_str(), names.data(), names.size());
  if (size < 0) return false;
  for (size_t at = 0; at < static_cast<size_t>(size);) {
    const char* name = names.c_str() + at;
    if (::lremovexattr(dir.c_str(), name) != 0 && errno != ENODATA) return false;
    at += std::strlen(name) + 1;
  }
  return true;
}

bool empty_dir(const std::string& dir) {
  auto names = fs::list_dir(dir);
  if (!names) return false;
  for (const std::string& name : *names)
    if (!fs::remove_all(dir + "/" + name).ok()) return false;
  return true;
}

}  // namespace

bool DirRecycler::empty_to_layout(const std::string& dir) const {
  auto names = fs::list_dir(dir);
  if (!names) return false;
  for (const std::string& want : layout_)
    if (!std::binary_search(names->begin(), names->end(), want)) return false;
  for (const std::string& name : *names) {
    std::string path = dir + "/" + name;
    bool in_layout = std::find(layout_.begin(), layout_.end(), name) != layout_.end();
    if (in_layout) {
      if (!empty_dir(path) || !clear_xattrs(path)) return false;
    } else if (name != kMetaFile && !fs::remove_all(path).ok()) {
      return false;
    }
  }
  return true;
}

bool DirRecycler::keep(const std::string& dead) {
  {
    std::lock_guard lock(mu_);
    if (kept_.size() >= max_kept_) return false;
  }
  if (!empty_to_layout(dead)) return false;
  std::string spare = spare_dir_ + "/" + new_uuid();
  if (::rename(dead.c_str(), spare.c_str()) != 0) return false;
  std::lock_guard lock(mu_);
  kept_.push_back(std::move(spare));
  return true;
}

bool DirRecycler::take(const std::string& path) {
  std::string spare;
  {
    std::lock_guard lock(mu_);
    if (kept_.empty()) return false;
    spare = std::move(kept_.back());
    kept_.pop_back();
  }
  if (::rename(spare.c_str(), path.c_str()) == 0) return true;
  // Only a cache: the create makes its own directory.
  spdlog::warn("volume store: reuse {} as {}: {}", spare, path, std::strerror(errno));
  (void)fs::remove_all(spare);
  return false;
}

size_t DirRecycler::kept() const {
  std::lock_guard lock(mu_);
  return kept_.size();
}

}  // namespace tarmac::baggageclaim
