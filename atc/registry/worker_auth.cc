#include "atc/registry/worker_auth.h"

#include <cerrno>
#include <sstream>

#include "common/fs.h"
#include "common/tls/keys.h"

namespace tarmac::atc {

Result<AuthorizedWorkerKeys> load_authorized_worker_keys(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text) return std::move(text).error().wrap("authorized worker keys");
  AuthorizedWorkerKeys keys;
  std::istringstream in(*text);
  std::string line, pem;
  int n = 0, pem_start = 0;
  while (std::getline(in, line)) {
    ++n;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!pem.empty() || line == "-----BEGIN CERTIFICATE-----") {
      if (pem.empty()) pem_start = n;
      pem += line + "\n";
      if (line != "-----END CERTIFICATE-----") continue;
      auto fp = tls::public_key_fingerprint(pem);
      if (!fp) return fp.error().wrap(path + ":" + std::to_string(pem_start) + ": certificate");
      keys.insert(*fp);
      pem.clear();
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("SHA256:", 0) != 0 || line.size() != 7 + 43)
      return Error(path + ":" + std::to_string(n) +
                   ": expected a key fingerprint \"SHA256:<43 base64 characters>\" or a PEM "
                   "certificate, got \"" +
                   line + "\"");
    keys.insert(line);
  }
  if (!pem.empty())
    return Error(path + ":" + std::to_string(pem_start) + ": certificate without an END line");
  return keys;
}

Status authorize_worker(const grpc::AuthContext& peer, const AuthorizedWorkerKeys& keys,
                        const std::string& claimed_name) {
  auto certs = peer.FindPropertyValues("x509_pem_cert");
  if (certs.empty())
    return Error("worker \"" + claimed_name + "\" presented no certificate", EACCES);
  std::string pem(certs.front().data(), certs.front().size());
  auto fp = tls::public_key_fingerprint(pem);
  if (!fp) return Error("worker \"" + claimed_name + "\": " + fp.error().message(), EACCES);
  if (!keys.count(*fp))
    return Error("worker key " + *fp +
                     " is not authorized (add it to the web node's "
                     "authorized worker keys)",
                 EACCES);
  auto cn = tls::common_name(pem);
  if (!cn || *cn != claimed_name)
    return Error("worker key " + *fp + " belongs to \"" + (cn ? *cn : std::string("?")) +
                     "\", not to \"" + claimed_name + "\"",
                 EACCES);
  return {};
}

}  // namespace tarmac::atc
