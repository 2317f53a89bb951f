#include "common/grpc/credentials.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "common/fs.h"

namespace tarmac {
namespace {

struct Pems {
  std::string cert, key, ca;
};

Result<Pems> read_pems(const TlsFiles& tls) {
  Pems p;
  for (auto [path, out, flag] :
       {std::tuple{&tls.cert, &p.cert, "certificate"}, std::tuple{&tls.key, &p.key, "key"},
        std::tuple{&tls.ca, &p.ca, "CA certificate"}}) {
    if (path->empty())
      return Error(std::string("TLS: no ") + flag + " file given (mutual TLS needs all three)");
    auto content = fs::read_file(*path);
    if (!content.ok()) return std::move(content).error().wrap(std::string("TLS ") + flag);
    if (content->find("-----BEGIN") == std::string::npos)
      return Error(std::string("TLS ") + flag + " " + *path + ": expected a PEM file");
    *out = std::move(*content);
  }
  return p;
}

}  // namespace

Result<std::shared_ptr<grpc::ServerCredentials>> server_credentials(const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  auto pems = read_pems(tls);
  if (!pems.ok()) return std::move(pems).error();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = pems->ca;
  options.pem_key_cert_pairs.push_back({pems->key, pems->cert});
  return grpc::SslServerCredentials(options);
}

Result<std::shared_ptr<grpc::ChannelCredentials>> channel_credentials(const TlsFiles& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  auto pems = read_pems(tls);
  if (!pems.ok()) return std::move(pems).error();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pems->ca;
  options.pem_private_key = pems->key;
  options.pem_cert_chain = pems->cert;
  return grpc::SslCredentials(options);
}

bool is_loopback_address(const std::string& address) {
  for (const char* prefix : {"127.", "[::1]:", "localhost:", "unix:"})
    if (address.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace tarmac
