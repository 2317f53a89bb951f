#include "worker/worker.h"

#include <fcntl.h>
#include <limits.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "baggageclaim/mounts.h"
#include "baggageclaim/service.h"
#include "baggageclaim/store.h"
#include "common/fs.h"
#include "common/grpc/server.h"
#include "worker/beacon/beacon.h"
#include "worker/beacon/resource_types.h"
#include "worker/containers/manager.h"
#include "worker/containers/service.h"
#include "worker/holdings.h"
#include "worker/runtime/seccomp.h"
#include "worker/state_tmpfs.h"

namespace tarmac::worker {
namespace {

constexpr const char* kLockFile = "worker.pid";

class WorkerImpl final : public Worker {
 public:
  int port() const override { return server_.port; }
  void shutdown(std::chrono::milliseconds grace) override {
    if (server_.server) server_.server->Shutdown(std::chrono::system_clock::now() + grace);
  }
  ~WorkerImpl() override {
    beacon_.reset();
    shutdown(std::chrono::milliseconds(0));
  }

  Status drain(DrainMode mode, std::chrono::milliseconds timeout,
               const std::function<bool()>& interrupted) override;

  std::string name_;
  std::string work_dir_;
  UniqueFd lock_;
  std::unique_ptr<baggageclaim::Store> store_;
  std::unique_ptr<containers::ContainerManager> containers_;
  std::unique_ptr<WorkerHoldings> holdings_;
  std::unique_ptr<beacon::Beacon> beacon_;
  // Draining by its own decision (signal, land-worker): the registry's answers do not undo it.
  std::atomic<bool> draining_{false};
  std::unique_ptr<baggageclaim::VolumeService> volume_service_;
  std::unique_ptr<containers::ContainerService> container_service_;
  RunningServer server_;
};

Status WorkerImpl::drain(DrainMode mode, std::chrono::milliseconds timeout,
                         const std::function<bool()>& interrupted) {
  const char* what = mode == DrainMode::kLand ? "landing" : "retiring";
  draining_ = true;
  containers_->refuse_new_containers(std::string("worker ") + name_ + " is " + what);
  if (beacon_)
    beacon_->set_state(mode == DrainMode::kLand ? registry::v1::LANDING : registry::v1::RETIRING);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int tasks;
  while ((tasks = containers_->active_tasks()) > 0) {
    if (interrupted()) return Error(std::string(what) + ": interrupted");
    if (std::chrono::steady_clock::now() >= deadline) {
      spdlog::warn("worker: {}: drain timeout with {} tasks still running", what, tasks);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (mode == DrainMode::kLand) {
    if (beacon_) TARMAC_RETURN_IF_ERROR(beacon_->land(), "landing");
    spdlog::info("worker: landed; containers and volumes stay for when it is back");
    return {};
  }
  if (beacon_) TARMAC_RETURN_IF_ERROR(beacon_->retire(), "retiring");
  // Retired: nothing of this worker is wanted any more.
  for (const std::string& h : containers_->handles())
    if (auto s = containers_->destroy(h); !s.ok()) spdlog::error("retire: {}", s.error().what());
  std::vector<std::string> volumes;
  for (const auto& v : store_->list()) volumes.push_back(v.handle);
  for (auto& [h, why] : store_->destroy_many(volumes))
    spdlog::error("retire: volume {}: {}", h, why);
  (void)fs::remove_all(work_dir_ + "/runtime/seccomp.bpf");
  containers_->finish_removals();
  // The state's tmpfs (see mount_state_tmpfs) goes only empty: a container whose destroy
  // failed keeps its state there, for the next start to find and destroy.
  for (const char* name : {"/runtime", "/containers"}) {
    std::string dir = work_dir_ + name;
    auto left = fs::list_dir(dir);
    if (left) std::erase(*left, std::string(containers::ContainerManager::kTrash));
    if (left && left->empty())
      (void)baggageclaim::unmount(dir);
    else
      spdlog::warn("retire: container state left in {}; kept for the next start", dir);
  }
  spdlog::info("worker: retired");
  return {};
}

Result<UniqueFd> lock_work_dir(const std::string& work_dir) {
  std::string path = work_dir + "/" + kLockFile;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return sys_error("open " + path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    auto pid = fs::read_file(path);
    return Error("another worker" + (pid ? " (pid " + *pid + ")" : std::string()) + " uses " +
                 work_dir);
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    return sys_error("write " + path);
  return fd;
}

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

Result<pid_t> running_worker_pid(const std::string& work_dir) {
  std::string path = work_dir + "/" + kLockFile;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error("no worker uses " + work_dir + ": open " + path);
  // The worker holds the lock while it runs; if we can take it, nobody runs there.
  if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0)
    return Error("no worker is running on " + work_dir, ESRCH);
  auto text = fs::read_file(path);
  if (!text) return std::move(text).error();
  pid_t pid = std::atoi(text->c_str());
  if (pid <= 0) return Error(path + ": expected a pid, got \"" + *text + "\"");
  return pid;
}

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
  auto lock = lock_work_dir(o.work_dir);
  if (!lock) return std::move(lock).error().wrap("worker: --work-dir");
  w->lock_ = std::move(*lock);
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
  mo.output_dir = o.work_dir + "/output";
  mo.runtime.run_dir = o.work_dir + "/runtime";
  mo.runtime.cgroup_root = o.cgroup_root;
  mo.runtime.cgroup_parent = o.cgroup_parent;
  mo.runtime.init_path = o.init_path;
  // Compiled once here for every shim to read (and rewritten by each worker start, so the
  // profile always matches the running binary).
  mo.runtime.seccomp_file = o.work_dir + "/runtime/seccomp.bpf";
  // The containers' records and process directories live exactly as long as the runtime's
  // state: a tmpfs too (only the processes' output, which can be large, stays on disk).
  for (const std::string& dir : {mo.runtime.run_dir, mo.dir}) {
    auto mounted = mount_state_tmpfs(dir);
    if (!mounted) return std::move(mounted).error().wrap("worker");
    if (*mounted == StateDir::kKeptOnDisk)
      spdlog::info("worker: container state stays on disk in {} (it holds some already)", dir);
  }
  TARMAC_RETURN_IF_ERROR(runtime::write_default_seccomp(mo.runtime.seccomp_file), "worker");
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
  auto server =
      start_server(address, {w->volume_service_.get(), w->container_service_.get()}, o.tls);
  if (!server) return std::move(server).error().wrap("worker");
  w->server_ = std::move(*server);
  w->holdings_ = std::make_unique<WorkerHoldings>(*w->containers_, *w->store_);

  if (o.name.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    o.name = host;
  }
  w->name_ = o.name;
  w->work_dir_ = o.work_dir;
  if (!o.registry.empty()) {
    beacon::BeaconOptions bo;
    bo.registry = o.registry;
    bo.tls = o.tls;
    bo.interval = o.heartbeat_interval;
    bo.gc_parallelism = o.gc_parallelism;
    auto& info = bo.worker;
    info.set_name(o.name);
    info.set_address(!o.external_address.empty()
                         ? o.external_address
                         : o.bind_ip + ":" + std::to_string(w->server_.port));
    info.set_platform(o.platform);
    for (const auto& t : o.tags) info.add_tags(t);
    info.set_team(o.team);
    info.set_version(TARMAC_VERSION);
    info.set_ephemeral(o.ephemeral);
    info.set_start_time(::time(nullptr));
    if (!o.resource_types.empty()) {
      auto types = beacon::load_resource_types(o.resource_types);
      if (!types) return std::move(types).error().wrap("worker");
      for (auto& t : *types) *info.add_resource_types() = std::move(t);
    }
    // An operator's land (through the web node) stops new containers here too; the web node
    // says `landed` once no unfinished build has containers here.
    bo.on_answer = [impl = w.get()](registry::v1::WorkerState state) {
      if (impl->draining_) return;
      bool landing = state == registry::v1::LANDING || state == registry::v1::LANDED ||
                     state == registry::v1::RETIRING;
      impl->containers_->refuse_new_containers(
          landing ? "worker " + impl->name_ + " is " +
                        (state == registry::v1::RETIRING ? "retiring" : "landing") +
                        " (set through the web node)"
                  : "");
    };
    auto b = beacon::Beacon::start(std::move(bo), *w->holdings_);
    if (!b) return std::move(b).error().wrap("worker");
    w->beacon_ = std::move(*b);
  }
  spdlog::info("worker: {} containers, {} volumes ({} driver) in {}",
               w->containers_->handles().size(), w->store_->list().size(), w->store_->driver_name(),
               o.work_dir);
  return std::unique_ptr<Worker>(std::move(w));
}

}  // namespace tarmac::worker
