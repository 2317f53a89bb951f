// The worker from a separate client process over gRPC (loopback):
//   1. create a container, run /bin/true in it, destroy it: median and p90, with the
//      runtime's own figure for the same work in-process beside it;
//   2. a task with two 100 MB inputs set up end to end: two volumes streamed in, a container
//      mounting both, a process reading them, destroy; against `tar -x` of the same archives.
// Run as root: bench_worker_bench [iterations] [work base dir]; see bench/README.md.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "baggageclaim/client.h"
#include "baggageclaim/mounts.h"
#include "bench/bench_util.h"
#include "tarmac/worker/v1/containers.grpc.pb.h"
#include "worker/runtime/busybox_rootfs.h"
#include "worker/runtime/runtime.h"

namespace tarmac::bench {
namespace {

namespace v1 = worker::v1;
constexpr double kTargetMedianMs = 10.0;

std::string bin_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  std::string p(buf, n > 0 ? n : 0);
  return p.substr(0, p.rfind('/'));
}

// The worker as its own process, like a real one; its port from its "listening on" line.
pid_t start_worker(const std::string& work, int* port) {
  int out[2];
  if (::pipe(out) != 0) std::exit(1);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out[1], 1);
    std::string tarmac = bin_dir() + "/tarmac";
    ::execl(tarmac.c_str(), "tarmac", "worker", "--work-dir", work.c_str(), "--bind-port", "0",
            "--cgroup-parent", "tarmac-worker-bench", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  if (line.rfind("listening on ", 0) != 0) {
    std::fprintf(stderr, "worker did not start: \"%s\"\n", line.c_str());
    std::exit(1);
  }
  *port = std::atoi(line.c_str() + line.rfind(':') + 1);
  return pid;
}

struct Client {
  std::unique_ptr<v1::Containers::Stub> containers;
  std::unique_ptr<baggageclaim::Client> volumes;

  void create(const std::string& handle,
              const std::vector<std::pair<std::string, std::string>>& mounts = {}) {
    v1::CreateContainerRequest req;
    req.mutable_spec()->set_handle(handle);
    req.mutable_spec()->set_image_volume("busybox");
    for (const auto& [vol, path] : mounts) {
      auto* m = req.mutable_spec()->add_mounts();
      m->set_volume(vol);
      m->set_path(path);
      m->set_readonly(true);
    }
    grpc::ClientContext ctx;
    v1::Container c;
    if (auto s = containers->Create(&ctx, req, &c); !s.ok()) {
      std::fprintf(stderr, "create: %s\n", s.error_message().c_str());
      std::exit(1);
    }
  }

  int run(const std::string& handle, std::vector<std::string> argv) {
    grpc::ClientContext ctx;
    auto stream = containers->Process(&ctx);
    v1::ProcessInput in;
    in.mutable_run()->set_handle(handle);
    in.mutable_run()->mutable_process()->set_path(argv[0]);
    for (size_t i = 1; i < argv.size(); ++i) in.mutable_run()->mutable_process()->add_args(argv[i]);
    stream->Write(in);
    v1::ProcessOutput out;
    int code = -1;
    while (stream->Read(&out)) {
      if (out.has_exit()) {
        code = out.exit().exit_code();
        stream->WritesDone();
      }
    }
    if (auto s = stream->Finish(); !s.ok()) {
      std::fprintf(stderr, "run: %s\n", s.error_message().c_str());
      std::exit(1);
    }
    return code;
  }

  void destroy(const std::string& handle) {
    grpc::ClientContext ctx;
    v1::DestroyContainerRequest req;
    req.set_handle(handle);
    v1::DestroyContainerResponse resp;
    if (auto s = containers->Destroy(&ctx, req, &resp); !s.ok()) {
      std::fprintf(stderr, "destroy: %s\n", s.error_message().c_str());
      std::exit(1);
    }
  }
};

// The same work in-process on the runtime alone: create (with /bin/true as main process),
// wait, destroy, on a plain directory rootfs.
class RuntimeAlone {
 public:
  RuntimeAlone(const std::string& rootfs, const std::string& run_dir) : rootfs_(rootfs) {
    // Its state on a tmpfs, as the worker keeps its runtime's (and as /run is): not the base
    // dir's filesystem, whose metadata writes would be counted against the runtime.
    must(fs::make_dirs(run_dir, 0700), "runtime run dir");
    if (::mount("tmpfs", run_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0)
      must(Status(sys_error("mount tmpfs on " + run_dir)), "runtime run dir");
    runtime::RuntimeOptions o;
    o.run_dir = run_dir;
    o.cgroup_parent = "tarmac-worker-bench-rt";
    o.init_path = bin_dir() + "/tarmac-init";
    rt_ = must(runtime::make_runtime(o), "runtime");
  }
  double once(int i) {
    runtime::ContainerSpec spec;
    spec.id = "rt" + std::to_string(i);
    spec.rootfs = rootfs_;
    spec.hostname = spec.id;
    spec.masked_paths = runtime::default_masked_paths();
    spec.readonly_paths = runtime::default_readonly_paths();
    spec.process.args = {"/bin/true"};
    auto t = Clock::now();
    auto made = must(rt_->create(spec, {}), "runtime create");
    must(made.container->wait(), "runtime wait");
    must(made.container->destroy(), "runtime destroy");
    return ms_since(t);
  }

 private:
  std::string rootfs_;
  runtime::RuntimePtr rt_;
};

// All worker rounds, then all of the runtime alone; or with `interleave`, one of each per
// iteration, so that both see the same speed of a VM that drifts by tens of percent within
// minutes, but then each also pays for the other's teardown still under way in the background
// (and not for its own), which flatters the worker (its is the larger).
void create_run_destroy(Client& c, const std::string& rootfs, const std::string& dir, int n,
                        bool interleave) {
  RuntimeAlone alone(rootfs, dir + "/rt-run");
  std::vector<double> total, create, run, destroy, rt;
  for (int i = -3; i < n; ++i) {  // three warm-ups
    std::string h = "b" + std::to_string(i + 3);
    auto t0 = Clock::now();
    c.create(h);
    auto t1 = Clock::now();
    if (c.run(h, {"/bin/true"}) != 0) std::fprintf(stderr, "/bin/true failed\n");
    auto t2 = Clock::now();
    c.destroy(h);
    auto t3 = Clock::now();
    if (interleave) rt.push_back(alone.once(i + 3));
    if (i < 0) continue;
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    create.push_back(ms(t0, t1));
    run.push_back(ms(t1, t2));
    destroy.push_back(ms(t2, t3));
    total.push_back(ms(t0, t3));
  }
  if (interleave) {
    rt.erase(rt.begin(), rt.begin() + 3);
  } else {
    for (int i = -3; i < n; ++i) {  // three warm-ups too
      double ms = alone.once(i + 3);
      if (i >= 0) rt.push_back(ms);
    }
  }
  std::printf("\n== create + run /bin/true + destroy, over gRPC from another process (n=%d) ==\n",
              n);
  std::printf("worker:  median %.2f ms, p90 %.2f ms (create %.2f, run %.2f, destroy %.2f)\n",
              median(total), stats_of(total).p90, median(create), median(run), median(destroy));
  std::printf("runtime alone, in-process, same container%s: median %.2f ms, p90 %.2f ms\n",
              interleave ? ", alternating with the worker" : "", median(rt), stats_of(rt).p90);
  std::printf("worker / runtime: %.2fx; target median <= %.0f ms: %s\n", median(total) / median(rt),
              kTargetMedianMs, median(total) <= kTargetMedianMs ? "met" : "missed");
}

void two_inputs(Client& c, const std::string& dir) {
  std::printf("\n== task with two 100 MB inputs, end to end ==\n");
  std::vector<std::string> archives;
  for (int i = 0; i < 2; ++i) {
    std::string tree = dir + "/input" + std::to_string(i);
    make_tree(tree, 2, 40, 2000);  // 80 MB in two files + 20 MB in 2000
    archives.push_back(dir + "/input" + std::to_string(i) + ".tar");
    sh("tar -C " + tree + " -cf " + archives.back() + " .");
  }
  std::vector<std::string> data;
  for (const auto& a : archives) data.push_back(must(fs::read_file(a), "read " + a));

  auto t = Clock::now();
  for (int i = 0; i < 2; ++i) {
    baggageclaim::CreateSpec spec;
    spec.handle = "in" + std::to_string(i);
    must(c.volumes->create(spec), "create input volume");
    size_t off = 0;
    const std::string& d = data[i];
    must(c.volumes->stream_in(spec.handle, ".", baggageclaim::tar::Encoding::kRaw,
                              [&]() -> Result<std::string_view> {
                                size_t n = std::min<size_t>(1 << 20, d.size() - off);
                                std::string_view v(d.data() + off, n);
                                off += n;
                                return v;
                              }),
         "stream in");
  }
  c.create("task", {{"in0", "/in0"}, {"in1", "/in1"}});
  int code =
      c.run("task", {"sh", "-c", "ls /in0/d1/e1 /in1/d1/e1 >/dev/null && test -s /in1/big1"});
  c.destroy("task");
  double tarmac_ms = ms_since(t);
  if (code != 0) std::fprintf(stderr, "the task could not read its inputs\n");

  double tar_ms = time_ms([&] {
    for (int i = 0; i < 2; ++i) {
      std::string to = dir + "/tar-x" + std::to_string(i);
      sh("mkdir -p " + to + " && tar -C " + to + " -xf " + archives[i]);
    }
  });
  std::printf("tarmac (2 stream-ins over gRPC + create + run + destroy): %.0f ms\n", tarmac_ms);
  std::printf("tar -x of the same two archives: %.0f ms; tarmac / tar: %.2fx\n", tar_ms,
              tarmac_ms / tar_ms);
}

int run(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 100;
  std::string base = argc > 2 ? argv[2] : "/var/tmp";
  std::string dir = base + "/tarmac-worker-bench-" + std::to_string(::getpid());
  must(fs::make_dirs(dir), "work dir");
  ::chmod(dir.c_str(), 0711);
  if (std::string note = journal_note(dir); !note.empty()) std::printf("note: %s\n", note.c_str());
  std::string rootfs = dir + "/busybox";
  must(runtime::make_busybox_rootfs(rootfs), "busybox rootfs");
  int port = 0;
  pid_t worker = start_worker(dir + "/work", &port);
  std::string address = "127.0.0.1:" + std::to_string(port);
  Client c;
  c.containers =
      v1::Containers::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  c.volumes = must(baggageclaim::Client::connect(address), "connect");
  baggageclaim::CreateSpec image;
  image.handle = "busybox";
  image.privileged = true;
  image.strategy.kind = baggageclaim::Strategy::Kind::kImport;
  image.strategy.import_path = rootfs;
  must(c.volumes->create(image), "import image");

  const char* only = std::getenv("BENCH_ONLY");
  auto want = [&](const char* part) { return !only || std::string(only) == part; };
  if (want("containers")) {
    const char* interleave = std::getenv("BENCH_INTERLEAVE");
    create_run_destroy(c, rootfs, dir, n, interleave && *interleave && *interleave != '0');
  }
  if (want("inputs")) two_inputs(c, dir);

  c = Client{};
  ::kill(worker, SIGTERM);
  ::waitpid(worker, nullptr, 0);
  (void)baggageclaim::unmount_under(dir);
  (void)fs::remove_all(dir);
  // Hosts name the cpu hierarchy "cpu,cpuacct" or "cpu"; removing what is absent is harmless.
  for (const char* h : {"memory", "pids", "cpu,cpuacct", "cpu", "devices", "freezer", "unified"}) {
    ::rmdir((std::string("/sys/fs/cgroup/") + h + "/tarmac-worker-bench/shims").c_str());
    ::rmdir((std::string("/sys/fs/cgroup/") + h + "/tarmac-worker-bench").c_str());
    ::rmdir((std::string("/sys/fs/cgroup/") + h + "/tarmac-worker-bench-rt").c_str());
  }
  return 0;
}

}  // namespace
}  // namespace tarmac::bench

int main(int argc, char** argv) { return tarmac::bench::run(argc, argv); }
