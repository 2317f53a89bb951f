#include "worker/worker.h"

#include <limits.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "baggageclaim/service.h"
#include "baggageclaim/store.h"
#include "common/fs.h"
#include "worker/containers/manager.h"
#include "worker/containers/service.h"

namespace tarmac::worker {
namespace {

class WorkerImpl final : public Worker {
 public:
  int port() const override { return server_.port; }
  void shutdown(std::chrono::milliseconds grace) override {
    if (server_.server) server_.server->Shutdown(std::chrono::system_clock::now() + grace);
  }
  ~WorkerImpl() override { shutdown(std::chrono::milliseconds(0)); }

  std::unique_ptr<baggageclaim::Store> store_;
  std::unique_ptr<containers::ContainerManager> containers_;
  std::unique_ptr<baggageclaim::VolumeService> volume_service_;
  std::unique_ptr<containers::ContainerService> container_service_;
  baggageclaim::RunningServer server_;
};

// An unprivileged container's root is a mapped uid with no rights over host directories: every
// directory above the work dir must let others search it, or no container could reach its
// root filesystem. Said here once, rather than as EACCES from inside a container.
Status check_searchable(const std::string& dir) {
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return sys_error("stat " + path);
    if (!(st.st_mode & S_IXOTH))
      return Error(path + " is not searchable by others (mode " +
                   std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                   std::to_string(st.st_mode & 7) +
                   "): unprivileged containers could not reach their volumes; chmod o+x it or "
                   "choose another --work-dir");
  }
  return {};
}

}  // namespace

std::string executable_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, n);
  return path.substr(0, path.rfind('/'));
}

Result<std::unique_ptr<Worker>> Worker::start(WorkerOptions o) {
  if (o.work_dir.empty()) return Error("--work-dir: expected a directory");
  if (o.shim_path.empty()) o.shim_path = executable_dir() + "/tarmac-shim";
  if (o.init_path.empty()) o.init_path = executable_dir() + "/tarmac-init";
  for (const std::string& helper : {o.shim_path, o.init_path})
    if (::access(helper.c_str(), X_OK) != 0) return sys_error("worker: helper " + helper);
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(o.work_dir, 0711), "worker: --work-dir");
  char real[PATH_MAX];
  if (!::realpath(o.work_dir.c_str(), real)) return sys_error("worker: --work-dir " + o.work_dir);
  o.work_dir = real;
  TARMAC_RETURN_IF_ERROR(check_searchable(o.work_dir), "worker: --work-dir");

  auto w = std::make_unique<WorkerImpl>();
  baggageclaim::StoreOptions so;
  so.root = o.work_dir + "/volumes";
  so.driver = o.volume_driver;
  so.ids = o.ids;
  so.idmap = o.idmapped_mounts;
  auto store = baggageclaim::Store::open(so);
  if (!store) return std::move(store).error().wrap("worker: volumes");
  w->store_ = std::move(*store);

  containers::ManagerOptions mo;
  mo.dir = o.work_dir + "/containers";
  mo.runtime.run_dir = o.work_dir + "/runtime";
  mo.runtime.cgroup_root = o.cgroup_root;
  mo.runtime.cgroup_parent = o.cgroup_parent;
  mo.runtime.init_path = o.init_path;
  mo.shim_path = o.shim_path;
  mo.ids = o.ids;
  mo.output_retain_bytes = o.output_retain_bytes;
  auto manager = containers::ContainerManager::open(mo, *w->store_);
  if (!manager) return std::move(manager).error().wrap("worker");
  w->containers_ = std::move(*manager);

  w->volume_service_ = std::make_unique<baggageclaim::VolumeService>(*w->store_, o.tls);
  w->container_service_ = std::make_unique<containers::ContainerService>(*w->containers_);
  std::string address =
      (o.bind_ip.find(':') != std::string::npos ? "[" + o.bind_ip + "]" : o.bind_ip) + ":" +
      std::to_string(o.bind_port);
  auto server = baggageclaim::start_server(
      address, {w->volume_service_.get(), w->container_service_.get()}, o.tls);
  if (!server) return std::move(server).error().wrap("worker");
  w->server_ = std::move(*server);
  spdlog::info("worker: {} containers, {} volumes ({} driver) in {}",
               w->containers_->handles().size(), w->store_->list().size(), w->store_->driver_name(),
               o.work_dir);
  return std::unique_ptr<Worker>(std::move(w));
}

}  // namespace tarmac::worker
