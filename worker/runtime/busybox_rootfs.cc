#include "worker/runtime/busybox_rootfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "common/fs.h"

namespace tarmac::runtime {
namespace {

Result<std::vector<std::string>> applets(const std::string& busybox) {
  std::string cmd = "'" + busybox + "' --list";
  FILE* p = ::popen(cmd.c_str(), "re");
  if (!p) return sys_error("run " + cmd);
  std::vector<std::string> names;
  char line[256];
  while (std::fgets(line, sizeof line, p)) {
    std::string name(line);
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    if (!name.empty() && name.find('/') == std::string::npos) names.push_back(name);
  }
  int rc = ::pclose(p);
  if (rc != 0 || names.empty()) return Error("run " + cmd + ": no applets listed");
  return names;
}

Status copy_file(const std::string& from, const std::string& to, mode_t mode) {
  auto content = fs::read_file(from);
  if (!content) return std::move(content).error();
  TARMAC_RETURN_IF_ERROR(fs::write_file(to, *content), "copy " + from);
  if (::chmod(to.c_str(), mode) != 0) return sys_error("chmod " + to);
  return {};
}

}  // namespace

Status make_busybox_rootfs(const std::string& dir, const std::string& busybox) {
  auto names = applets(busybox);
  if (!names) return std::move(names).error().wrap("busybox rootfs");
  for (const char* sub : {"/bin", "/etc", "/proc", "/dev", "/sys", "/root", "/tmp", "/var/tmp"})
    TARMAC_RETURN_IF_ERROR(fs::make_dirs(dir + sub), "busybox rootfs");
  // mkdtemp makes 0700 directories; any user must be able to walk the root.
  if (::chmod(dir.c_str(), 0755) != 0) return sys_error("busybox rootfs: chmod " + dir);
  ::chmod((dir + "/tmp").c_str(), 01777);
  ::chmod((dir + "/var/tmp").c_str(), 01777);
  TARMAC_RETURN_IF_ERROR(copy_file(busybox, dir + "/bin/busybox", 0755), "busybox rootfs");
  for (const std::string& name : *names) {
    std::string link = dir + "/bin/" + name;
    if (name == "busybox" || fs::exists(link)) continue;
    if (::symlink("busybox", link.c_str()) != 0)
      return sys_error("busybox rootfs: symlink " + link);
  }
  TARMAC_RETURN_IF_ERROR(fs::write_file(dir + "/etc/passwd",
                                        "root:x:0:0:root:/root:/bin/sh\n"
                                        "vcap:x:1000:1000:BOSH System User:/home/vcap:/bin/sh\n"
                                        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
                         "busybox rootfs");
  TARMAC_RETURN_IF_ERROR(
      fs::write_file(dir + "/etc/group", "root:x:0:\nvcap:x:1000:\nnogroup:x:65534:\n"),
      "busybox rootfs");
  return fs::write_file(dir + "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n");
}

}  // namespace tarmac::runtime
