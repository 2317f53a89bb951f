#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "tarmac/registry/v1/registry.pb.h"

namespace tarmac::beacon {

// The resource types bundled with a worker, as Concourse lays them out: one directory per
// type holding resource_metadata.json ({"type", "version", "privileged",
// "unique_version_history"}) and its image (rootfs.tgz, or a rootfs/ directory). Errors name
// the file and the field.
Result<std::vector<registry::v1::ResourceType>> load_resource_types(const std::string& dir);

}  // namespace tarmac::beacon
