#include "cmd/tarmac/generate_key.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "common/fs.h"
#include "common/tls/keys.h"

namespace tarmac::cmd {
namespace {

// Never overwrites: a second generate-key with the same -f would silently cut off every
// worker that trusted the first.
Status write_new(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return sys_error("-f: create " + path);
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ::close(fd);
  if (!ok) return sys_error("-f: write " + path);
  return {};
}

}  // namespace

void add_generate_key(CLI::App& app, GenerateKeyOptions& o) {
  auto* cmd = app.add_subcommand(
      "generate-key",
      "Make a CA, or a web or worker key and certificate signed by it (mutual TLS)");
  cmd->add_option("-t,--type", o.type, "ca, web or worker")
      ->required()
      ->check(CLI::IsMember({"ca", "web", "worker"}));
  cmd->add_option("-f,--filename", o.file, "Writes FILE.key and FILE.crt")->required();
  cmd->add_option("--ca", o.ca, "The CA's FILE (FILE.key, FILE.crt), for web and worker");
  cmd->add_option("-n,--name", o.name, "Common name (a worker's name); default: FILE's base name");
  cmd->add_option(
      "--host", o.hosts,
      "Names and addresses it serves on (default: the name, localhost, 127.0.0.1, ::1)");
  cmd->add_option("--days", o.days, "Validity in days (default: 3650 for a CA, else 825)");
}

int run_generate_key(const GenerateKeyOptions& o) {
  std::string name = o.name;
  if (name.empty()) name = o.file.substr(o.file.rfind('/') + 1);
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "tarmac generate-key: %s\n", e.what().c_str());
    return 1;
  };
  Result<tls::KeyPair> pair = Error("");
  if (o.type == "ca") {
    pair = tls::make_ca(name, o.days ? o.days : 3650);
  } else {
    if (o.ca.empty()) return fail(Error("--ca: expected the CA's FILE for a " + o.type + " key"));
    auto key = fs::read_file(o.ca + ".key");
    auto cert = fs::read_file(o.ca + ".crt");
    if (!key) return fail(key.error().wrap("--ca"));
    if (!cert) return fail(cert.error().wrap("--ca"));
    std::vector<std::string> hosts = o.hosts;
    if (hosts.empty()) hosts = {name, "localhost", "127.0.0.1", "::1"};
    pair = tls::make_leaf(tls::KeyPair{*key, *cert}, name, hosts, o.days ? o.days : 825);
  }
  if (!pair) return fail(pair.error());
  if (auto s = write_new(o.file + ".key", pair->key_pem, 0600); !s.ok()) return fail(s.error());
  if (auto s = write_new(o.file + ".crt", pair->cert_pem, 0644); !s.ok()) return fail(s.error());
  auto fp = tls::public_key_fingerprint(pair->cert_pem);
  if (!fp) return fail(fp.error());
  std::printf("wrote %s.key and %s.crt (%s \"%s\", key %s)\n", o.file.c_str(), o.file.c_str(),
              o.type.c_str(), name.c_str(), fp->c_str());
  return 0;
}

}  // namespace tarmac::cmd
