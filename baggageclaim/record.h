#pragma once

#include <string>
#include <vector>

#include "baggageclaim/volume.h"
#include "common/result.h"

namespace tarmac::baggageclaim {

// What the store keeps of a volume on disk (meta.json in its directory) and in memory.
struct VolumeRecord {
  Volume volume;
  // The directory holding the volume's storage and meta.json (<root>/<phase>/<handle>).
  std::string dir;
  // Overlay: the read-only layers the volume got from its parent at creation, top-most
  // first, as "<owner handle>/<n>" (the owner's layers/<n>). Never changes afterwards.
  std::vector<std::string> inherited_layers;
};

// meta.json's content for `record` (the directory is not part of it: it follows the phase).
std::string encode_meta(const VolumeRecord& record);

// Parses meta.json; errors name `path` and the field.
Result<VolumeRecord> decode_meta(const std::string& path, const std::string& content);

// Handles become directory names: [A-Za-z0-9._-], 1..128 chars, not "." or "..".
Status check_handle(const std::string& handle);

}  // namespace tarmac::baggageclaim
