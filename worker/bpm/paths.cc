#include "worker/bpm/paths.h"

#include <cctype>
#include <cstdlib>

namespace tarmac::bpm {

BoshPaths BoshPaths::from_env() {
  const char* root = std::getenv("BPM_BOSH_ROOT");
  std::string r = root && *root ? root : "/var/vcap";
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return BoshPaths(r);
}

std::string BoshPaths::inside(const std::string& host_path) const {
  if (host_path == root_) return "/var/vcap";
  if (host_path.rfind(root_ + "/", 0) == 0) return "/var/vcap" + host_path.substr(root_.size());
  return host_path;
}

std::string BoshPaths::cgroup_parent() const {
  if (root_ == "/var/vcap") return "bpm";
  std::string id =
      container_id(root_.substr(root_.rfind('/') + 1), root_.substr(root_.rfind('/') + 1));
  return "bpm-" + id.substr(4);
}

std::string BoshPaths::lock_file(const std::string& job, const std::string& proc) const {
  return root_ + "/data/bpm/locks/job-" + container_id(job, proc) + ".lock";
}

std::string container_id(const std::string& job, const std::string& proc) {
  std::string name = job == proc ? job : job + "." + proc;
  std::string id = "bpm-";
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      id += static_cast<char>(c);
    } else {
      id += '.';
      id += hex[c >> 4];
      id += hex[c & 15];
    }
  }
  return id;
}

Result<std::string> decode_container_id(const std::string& id) {
  if (id.rfind("bpm-", 0) != 0) return Error("invalid job ID (missing prefix): \"" + id + "\"");
  std::string name;
  for (size_t i = 4; i < id.size(); ++i) {
    if (id[i] != '.') {
      name += id[i];
      continue;
    }
    if (i + 2 >= id.size() || !std::isxdigit(static_cast<unsigned char>(id[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(id[i + 2])))
      return Error("invalid job ID (incomplete escape sequence): \"" + id + "\"");
    name += static_cast<char>(std::stoi(id.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return name;
}

}  // namespace tarmac::bpm
