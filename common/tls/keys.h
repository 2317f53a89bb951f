#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::tls {

// What `tarmac generate-key` makes: an ECDSA P-256 key and an X.509 certificate, as PEM.
struct KeyPair {
  std::string key_pem;
  std::string cert_pem;
};

// A self-signed certificate authority for one installation.
Result<KeyPair> make_ca(const std::string& common_name, int days);

// A certificate for `common_name` signed by `ca`, good for both ends of mutual TLS. `hosts`
// become subject alternative names (IP addresses as such, anything else as DNS names).
Result<KeyPair> make_leaf(const KeyPair& ca, const std::string& common_name,
                          const std::vector<std::string>& hosts, int days);

// "SHA256:<base64>" of a certificate's public key (its DER SubjectPublicKeyInfo): how a web
// node lists the worker keys it accepts, and how errors name a refused one.
Result<std::string> public_key_fingerprint(const std::string& cert_pem);

// The certificate's subject common name.
Result<std::string> common_name(const std::string& cert_pem);

}  // namespace tarmac::tls
