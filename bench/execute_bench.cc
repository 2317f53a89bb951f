// `fly execute` of a task running `true` on a warm `tarmac quickstart`, end to end through
// the CLI (task file check, build created over HTTP, placed, container made on a COW volume
// of the image, run, events streamed back, exit code through), against `runc run` of the
// same `true` in the same image (an OCI runtime alone: no API, database or volumes); then a
// 100 MB input uploaded by fly execute against `tar -cz | cat` of the same tree.
//
//   build/bin/bench_execute_bench [runs]      (as root; default 20)
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"

using namespace tarmac;
using namespace tarmac::bench;

namespace {

struct Quickstart {
  pid_t pid = -1;
  int port = 0;
  std::string password;
};

// Starts the quickstart and reads its announcement up to the listening line.
Quickstart start_quickstart(const std::string& bin, const std::string& dir,
                            const std::string& cgroup) {
  int out[2];
  if (::pipe(out) != 0) die("pipe", Error("pipe failed"));
  Quickstart q;
  q.pid = ::fork();
  if (q.pid == 0) {
    ::dup2(out[1], 1);
    int log = ::open((dir + "/quickstart.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) ::dup2(log, 2);
    ::close(out[0]);
    ::execl(bin.c_str(), bin.c_str(), "quickstart", "--work-dir", (dir + "/qs").c_str(),
            "--bind-port", "0", "--cgroup-parent", cgroup.c_str(), nullptr);
    _exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1) {
    if (c != '\n') {
      line += c;
      continue;
    }
    if (auto at = line.find(" -p "); at != std::string::npos) q.password = line.substr(at + 4);
    if (line.rfind("listening on ", 0) == 0) {
      q.port = std::atoi(line.c_str() + line.rfind(':') + 1);
      break;
    }
    line.clear();
  }
  ::close(out[0]);
  if (!q.port) die("quickstart", Error("no listening line; see " + dir + "/quickstart.log"));
  return q;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  std::string bin = TARMAC_BIN_DIR;
  auto dir = must(fs::make_temp_dir("tarmac-execute-bench"), "temp dir");
  ::chmod(dir.c_str(), 0711);
  std::string cgroup = "tarmac-bench-" + std::to_string(::getpid());
  Quickstart q = start_quickstart(bin + "/tarmac", dir, cgroup);
  std::string image = dir + "/qs/images/busybox";
  std::string fly = "FLYRC=" + dir + "/flyrc " + bin + "/fly ";
  sh(fly + "-t b login -c http://127.0.0.1:" + std::to_string(q.port) + " -u admin -p " +
     q.password + " >/dev/null");
  must(fs::write_file(dir + "/task.yml",
                      "platform: linux\nrootfs_uri: raw://" + image + "\nrun: {path: true}\n"),
       "task file");
  std::string execute = fly + "-t b execute -c " + dir + "/task.yml >/dev/null";
  for (int i = 0; i < 2; ++i) sh(execute);  // warm: image imported, connections made
  std::vector<double> tarmac_ms;
  for (int i = 0; i < runs; ++i) tarmac_ms.push_back(time_ms([&] { sh(execute); }));

  // The peer: runc run of /bin/true in the same image, read-only root, no terminal.
  std::string bundle = dir + "/bundle";
  sh("mkdir -p " + bundle + " && cd " + bundle + " && runc spec");
  auto spec = nlohmann::json::parse(must(fs::read_file(bundle + "/config.json"), "runc spec"));
  spec["process"]["args"] = {"/bin/true"};
  spec["process"]["terminal"] = false;
  spec["root"]["path"] = image;
  spec["root"]["readonly"] = true;
  must(fs::write_file(bundle + "/config.json", spec.dump()), "bundle");
  std::vector<double> runc_ms;
  for (int i = 0; i < runs + 2; ++i) {
    double ms = time_ms([&] {
      sh("runc run -b " + bundle + " bench-" + std::to_string(::getpid()) + "-" +
         std::to_string(i) + " >/dev/null");
    });
    if (i >= 2) runc_ms.push_back(ms);
  }

  // A 100 MB input: 400 files of 256 KiB of base64 text (compresses about as source trees
  // do), uploaded by fly execute to a task that lists it, against `tar -cz | cat` of the
  // same tree, which is what the upload has to do at the least.
  std::string tree = dir + "/tree";
  sh("mkdir -p " + tree +
     " && for i in $(seq 1 400); do head -c 196608 /dev/urandom | base64 -w 76"
     " > " +
     tree + "/f$i.txt; done");
  must(fs::write_file(dir + "/input.yml",
                      "platform: linux\nrootfs_uri: raw://" + image +
                          "\ninputs: [{name: src}]\n"
                          "run: {path: sh, args: [-c, 'test -s src/f400.txt']}\n"),
       "task file");
  std::string upload =
      fly + "-t b execute -c " + dir + "/input.yml -i src=" + tree + " >/dev/null 2>&1";
  int upload_runs = std::max(3, runs / 4);
  std::vector<double> upload_ms, tar_ms;
  for (int i = 0; i < upload_runs; ++i) {
    upload_ms.push_back(time_ms([&] { sh(upload); }));
    tar_ms.push_back(time_ms([&] { sh("tar -C " + tree + " -cz . | cat >/dev/null"); }));
  }

  Stats t = stats_of(tarmac_ms), r = stats_of(runc_ms);
  std::printf("fly execute of `true` on a warm quickstart (%d runs): median %.1f ms, p90 %.1f ms\n",
              runs, t.median, t.p90);
  std::printf("runc run of /bin/true in the same image:          median %.1f ms, p90 %.1f ms\n",
              r.median, r.p90);
  std::printf("ratio fly execute / runc run: %.2fx (target: fly execute median <= 150 ms)\n",
              t.median / r.median);

  Stats u = stats_of(upload_ms), z = stats_of(tar_ms);
  std::printf("\nfly execute with a 100 MB input (%d runs):        median %.1f ms, p90 %.1f ms\n",
              upload_runs, u.median, u.p90);
  std::printf("tar -cz | cat of the same tree:                    median %.1f ms, p90 %.1f ms\n",
              z.median, z.p90);
  std::printf("ratio upload+run / tar -cz: %.2fx\n", u.median / z.median);

  ::kill(q.pid, SIGTERM);
  ::waitpid(q.pid, nullptr, 0);
  // The builds' containers outlive the worker by design; the bench takes its own down.
  sh("find /sys/fs/cgroup/*/" + cgroup +
     " -name cgroup.procs -exec cat {} + 2>/dev/null |"
     " sort -u | xargs -r kill -9; sleep 0.5;"
     " grep " +
     dir +
     " /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l;"
     " for h in /sys/fs/cgroup/*/" +
     cgroup +
     "; do find $h -depth -type d -exec rmdir {} \\; "
     "2>/dev/null; done; true");
  (void)fs::remove_all(dir);
  return 0;
}
