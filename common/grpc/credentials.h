#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "common/result.h"

namespace tarmac {

// PEM files for mutual TLS: this side's certificate and key, and the CA its peers'
// certificates must chain to. All empty = plaintext (loopback only).
struct TlsFiles {
  std::string cert, key, ca;
  bool enabled() const { return !cert.empty() || !key.empty() || !ca.empty(); }
};

// Server credentials that demand and verify a client certificate; errors name the file.
Result<std::shared_ptr<grpc::ServerCredentials>> server_credentials(const TlsFiles& tls);
Result<std::shared_ptr<grpc::ChannelCredentials>> channel_credentials(const TlsFiles& tls);

// Plaintext is only for loopback: "127.0.0.1:7788", "[::1]:7788", "localhost:7788".
bool is_loopback_address(const std::string& address);

}  // namespace tarmac
