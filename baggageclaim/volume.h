#pragma once

#include <map>
#include <string>

namespace tarmac::baggageclaim {

using Properties = std::map<std::string, std::string>;

// A volume as callers see it.
struct Volume {
  std::string handle;
  // Where a container runtime mounts it from (the same path for the volume's whole life).
  std::string path;
  Properties properties;
  bool privileged = false;
  std::string parent;  // the COW parent's handle, empty if none
};

struct Strategy {
  enum class Kind { kEmpty, kCow, kImport };
  Kind kind = Kind::kEmpty;
  std::string parent;       // kCow
  std::string import_path;  // kImport: a host directory (copied) or a .tgz (extracted)
  bool follow_symlinks = false;
};

struct CreateSpec {
  std::string handle;  // empty: the store makes one
  Strategy strategy;
  Properties properties;
  bool privileged = false;
};

}  // namespace tarmac::baggageclaim
