#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "baggageclaim/driver.h"
#include "baggageclaim/tar/tar.h"
#include "baggageclaim/volume.h"
#include "common/background_remover.h"
#include "common/dir_spreader.h"
#include "common/result.h"

namespace tarmac::baggageclaim {

struct StoreOptions {
  std::string root;
  // "overlay", "naive" or "detect" (overlay where the root's filesystem takes it).
  std::string driver = "detect";
  IdRange ids;
  // Use idmapped mounts for unprivileged volumes where the kernel has them; off = store host
  // ids and walk the tree on privilege changes (as Concourse), for tests and old kernels.
  bool idmap = true;
  // This boot's id; empty: the kernel's (/proc/sys/kernel/random/boot_id). Tests set it to
  // play a reboot.
  std::string boot_id;
  // The most lower layers an overlay volume stacks (the kernel allows 500, and every lookup
  // that misses walks them all). A parent whose copy-on-write child would need more is first
  // flattened: the layers below its upper are copied into one, which the child shares.
  int max_layers = 128;
  // Test seam: mount overlays through mount(2)'s option string, as on a kernel before 6.8
  // (no lowerdir+), where a stack is limited to what fits in a page of options.
  bool legacy_overlay_mounts = false;
  // Tests: called before each change a copy-on-write makes to its parent's storage (an
  // overlay flatten or freeze), to cut it off where a crash could.
  std::function<void()> cow_step;
};

// The volume store: volumes in <root>/live/<handle>, created in <root>/init/ and destroyed
// through <root>/dead/, so a crash at any point leaves either a whole volume or nothing
// visible. A destroyed volume's files are removed in the background (see BackgroundRemover). Safe
// for concurrent use.
//
// A volume with live copy-on-write children is not destroyed: destroy refuses, naming the
// children (the ATC's GC removes leaves first; destroy_many orders a batch that way).
class Store {
 public:
  // Opens (creating) the root and recovers it: removes what init/ and (in the background)
  // dead/ hold, mounts live volumes that are not mounted (after a reboot), removes streams a
  // crash left.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();

  std::string_view driver_name() const { return driver_->name(); }
  bool idmapped() const { return context_.idmap(); }

  Result<Volume> create(const CreateSpec& spec);
  // Volumes whose properties include all of `filter`'s, sorted by handle.
  std::vector<Volume> list(const Properties& filter = {}) const;
  Result<Volume> get(const std::string& handle) const;
  Status set_property(const std::string& handle, const std::string& name, const std::string& value);
  Status set_privileged(const std::string& handle, bool privileged);
  Status destroy(const std::string& handle);
  // Destroys each (children before their parents when both are in the batch); returns the
  // handles that could not be, with why. Unknown handles count as destroyed.
  std::map<std::string, std::string> destroy_many(const std::vector<std::string>& handles);
  // Until the files of every volume destroyed so far are removed (they go in the background).
  void finish_removals() { remover_.drain(); }

  struct StreamInOptions {
    tar::Encoding encoding = tar::Encoding::kGzip;
    uint64_t limit = 0;
  };
  Status stream_in(const std::string& handle, const std::string& path, const tar::ReadFn& read,
                   const StreamInOptions& options);
  Status stream_out(const std::string& handle, const std::string& path, const tar::WriteFn& write,
                    tar::Encoding encoding);

 private:
  struct Entry {
    enum class State { kCreating, kLive, kDestroying };
    State state = State::kCreating;
    VolumeRecord record;
    // Exclusive: stream-in, freeze (a child being made), privilege change, destroy.
    // Shared: stream-out.
    std::shared_mutex io_mu;
  };

  Store(StoreOptions options, DriverContext context, std::unique_ptr<Driver> driver);
  Status recover();
  // Whether the host went down while the store was open (another boot's record, not closed).
  Result<bool> host_went_down() const;
  // Records this boot and the store's state ("running", "closed") in <root>/boot, durably.
  Status record_boot(std::string_view state);
  Status recover_volume(const std::string& handle);
  Result<std::shared_ptr<Entry>> live_entry(const std::string& handle) const;
  // A copy of the entry's record if it is still live (checked again once its io lock is held).
  Result<VolumeRecord> live_record(const std::string& handle, const Entry& entry) const;
  Status write_meta(const VolumeRecord& record);
  Status write_new_meta(const VolumeRecord& record);
  Status import(const VolumeRecord& record, const Strategy& strategy);
  Status shift_for_privilege(const VolumeRecord& record, bool to_privileged);
  Status destroy_entry(const std::string& handle, const std::shared_ptr<Entry>& entry);

  StoreOptions options_;
  DriverContext context_;
  std::unique_ptr<Driver> driver_;
  UniqueFd userns_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::string boot_id_;  // this boot's: the kernel's, or the options'
  bool opened_ = false;
  // Where new volumes are made (init/s<n>): spread over the filesystem's block groups.
  std::unique_ptr<DirSpreader> spreader_;
  // Last: it goes first, removing what it still holds while the rest is there.
  BackgroundRemover remover_;
};

}  // namespace tarmac::baggageclaim
