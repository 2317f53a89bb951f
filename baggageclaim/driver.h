#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "baggageclaim/idmap.h"
#include "baggageclaim/record.h"
#include "common/result.h"

namespace tarmac::baggageclaim {

// What a driver needs to know of its store.
struct DriverContext {
  std::string root;  // the store's directory (init/, live/, dead/ below it)
  IdRange ids;
  // A user namespace for idmapped mounts, or -1: then unprivileged volumes store host ids
  // (container id + ids.host_base) and changing a volume's privilege walks its tree.
  int userns_fd = -1;
  // An idmapped view of `root` (files owned by c on disk show as host_base + c), or empty.
  std::string idmapped_root;
  // The most lower layers an overlay stacks (StoreOptions::max_layers).
  size_t max_layers = 128;
  bool legacy_mounts = false;      // StoreOptions::legacy_overlay_mounts
  std::function<void()> cow_step;  // StoreOptions::cow_step

  bool idmap() const { return userns_fd >= 0; }
  // The directory of a live volume.
  std::string live_dir(const std::string& handle) const { return root + "/live/" + handle; }
};

// Where tar streams and imports write a mounted volume, and how to write there.
struct StreamTarget {
  std::string dir;
  // Added to archive ids on the way in, subtracted on the way out.
  int64_t id_offset = 0;
  // Write with ScopedMappedFsIds (the directory is an overlay on idmapped layers).
  bool mapped_fsids = false;
};

// A volume driver: how a volume's storage is laid out in its directory and mounted at
// <dir>/volume. The store owns phases, locking and the index; drivers only touch the
// directories they are given (and, for a copy-on-write, the parent's).
class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string_view name() const = 0;

  // Lays out an empty volume's storage in record.dir (not mounted yet).
  virtual Status create_empty(VolumeRecord& record) = 0;
  // Lays out `child` as a copy-on-write snapshot of the live, mounted `parent`, which the
  // caller holds exclusively (no stream writes to it meanwhile). May rework the parent's
  // storage and remount it (overlay).
  virtual Status create_cow(VolumeRecord& parent, VolumeRecord& child) = 0;
  // Makes <dir>/volume show the volume. Called at creation and at start for any live
  // volume not mounted (after a reboot); finishes a rework a crash interrupted.
  virtual Status mount(const VolumeRecord& record) = 0;
  // True if create_cow copies the parent's files (and so can shift ids while copying);
  // false if the child shares them and a privilege change must walk the mounted child.
  virtual bool copies_on_cow() const = 0;
  // Where streams write the mounted volume.
  virtual StreamTarget stream_target(const VolumeRecord& record) const = 0;
};

// mkdir of a new volume's root directory, owned by container root as the volume stores ids.
Status make_volume_root(const std::string& path, const VolumeRecord& record,
                        const DriverContext& context);

std::unique_ptr<Driver> make_naive_driver(const DriverContext& context);
std::unique_ptr<Driver> make_overlay_driver(const DriverContext& context);

}  // namespace tarmac::baggageclaim
