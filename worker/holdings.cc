#include "worker/holdings.h"

#include <set>

namespace tarmac::worker {
using containers::kRootfsOwnerProperty;

std::vector<std::string> WorkerHoldings::volume_handles() const {
  std::vector<std::string> out;
  for (const auto& v : volumes_.list())
    if (!v.properties.count(kRootfsOwnerProperty)) out.push_back(v.handle);
  return out;
}

std::vector<std::pair<std::string, std::string>> WorkerHoldings::destroy_volumes(
    const std::vector<std::string>& handles) {
  // A container's root filesystem is not the web node's to destroy while the container lives.
  std::vector<std::pair<std::string, std::string>> failed;
  std::vector<std::string> allowed;
  auto containers = containers_.handles();
  std::set<std::string> live(containers.begin(), containers.end());
  for (const std::string& h : handles) {
    auto v = volumes_.get(h);
    if (!v) continue;  // already gone: what was asked
    auto owner = v->properties.find(kRootfsOwnerProperty);
    if (owner != v->properties.end() && live.count(owner->second)) {
      failed.emplace_back(h, "root filesystem of live container " + owner->second);
      continue;
    }
    allowed.push_back(h);
  }
  for (auto& [h, why] : volumes_.destroy_many(allowed)) failed.emplace_back(h, why);
  return failed;
}

}  // namespace tarmac::worker
