#include "atc/auth/password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "common/tls/digest.h"

namespace tarmac::atc::auth {
namespace {

constexpr int kIterations = 100000;

using tls::hex;

std::string pbkdf2(const std::string& password, const std::string& salt, int iterations) {
  unsigned char out[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), sizeof out, out);
  return hex(out, sizeof out);
}

}  // namespace

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), static_cast<int>(bytes)) != 1) std::abort();  // no entropy: stop
  return hex(buf.data(), bytes);
}

std::string hash_password(const std::string& password) {
  std::string salt = random_hex(16);
  return "pbkdf2-sha256$" + std::to_string(kIterations) + "$" + salt + "$" +
         pbkdf2(password, salt, kIterations);
}

bool verify_password(const std::string& password, const std::string& stored) {
  // pbkdf2-sha256$<iterations>$<salt>$<hash>
  size_t a = stored.find('$'), b = stored.find('$', a + 1), c = stored.find('$', b + 1);
  if (a == std::string::npos || b == std::string::npos || c == std::string::npos) return false;
  if (stored.substr(0, a) != "pbkdf2-sha256") return false;
  int iterations = std::atoi(stored.substr(a + 1, b - a - 1).c_str());
  if (iterations < 1 || iterations > 10000000) return false;
  std::string want = stored.substr(c + 1);
  std::string got = pbkdf2(password, stored.substr(b + 1, c - b - 1), iterations);
  return want.size() == got.size() && CRYPTO_memcmp(want.data(), got.data(), got.size()) == 0;
}

}  // namespace tarmac::atc::auth
