#include <sys/stat.h>

#include "baggageclaim/copy/copy_tree.h"
#include "baggageclaim/driver.h"
#include "baggageclaim/mounts.h"
#include "common/fs.h"

namespace tarmac::baggageclaim {
namespace {

// Every volume is a plain directory (data/) bind-mounted at volume/; a copy-on-write is a
// full copy. For filesystems without overlay support.
class NaiveDriver : public Driver {
 public:
  explicit NaiveDriver(DriverContext context) : c_(std::move(context)) {}

  std::string_view name() const override { return "naive"; }

  Status create_empty(VolumeRecord& record) override {
    return make_volume_root(record.dir + "/data", record, c_);
  }

  Status create_cow(VolumeRecord& parent, VolumeRecord& child) override {
    TARMAC_RETURN_IF_ERROR(create_empty(child), "copy-on-write");
    CopyOptions options;
    // Without idmapped mounts the two sides store ids differently when their privilege
    // differs.
    if (!c_.idmap() && parent.volume.privileged != child.volume.privileged)
      options.id_offset =
          child.volume.privileged ? -int64_t{c_.ids.host_base} : int64_t{c_.ids.host_base};
    TARMAC_RETURN_IF_ERROR(copy_tree(parent.dir + "/data", child.dir + "/data", options),
                           "copy-on-write of " + parent.volume.handle);
    return ok_status();
  }

  Status mount(const VolumeRecord& record) override {
    std::string data = record.dir + "/data", target = record.dir + "/volume";
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(target), "mount volume");
    auto mounted = is_mount_point(target);
    if (!mounted.ok()) return std::move(mounted).error().wrap("mount volume");
    if (*mounted) return ok_status();
    if (!record.volume.privileged && c_.idmap()) return mount_idmapped(data, target, c_.userns_fd);
    return bind_mount(data, target);
  }

  bool copies_on_cow() const override { return true; }

  StreamTarget stream_target(const VolumeRecord& record) const override {
    StreamTarget t;
    t.dir = record.dir + "/data";
    if (!record.volume.privileged && !c_.idmap()) t.id_offset = c_.ids.host_base;
    return t;
  }

 private:
  DriverContext c_;
};

}  // namespace

std::unique_ptr<Driver> make_naive_driver(const DriverContext& context) {
  return std::make_unique<NaiveDriver>(context);
}

}  // namespace tarmac::baggageclaim
