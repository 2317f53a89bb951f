#pragma once

#include <grpcpp/security/auth_context.h>

#include <set>
#include <string>

#include "common/result.h"

namespace tarmac::atc {

// The worker keys a web node accepts: "SHA256:<base64>" fingerprints of their public keys, as
// `tarmac generate-key` prints them.
using AuthorizedWorkerKeys = std::set<std::string>;

// Reads an authorized worker keys file: per line a fingerprint, or certificates in PEM (their
// keys are taken); blank lines and # comments are skipped. Errors name the file and line.
Result<AuthorizedWorkerKeys> load_authorized_worker_keys(const std::string& path);

// Checks the peer of a registry call, whose certificate TLS has already verified against the
// CA: its key must be authorized and its common name must be the worker name it claims.
// Errors (EACCES) say which, naming the key, so both sides can tell what to fix.
Status authorize_worker(const grpc::AuthContext& peer, const AuthorizedWorkerKeys& keys,
                        const std::string& claimed_name);

}  // namespace tarmac::atc
