#pragma once

#include <string>

#include "common/result.h"

namespace tarmac::atc::auth {

// "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>" with a random salt.
std::string hash_password(const std::string& password);
// Whether `password` matches `stored` (a hash_password result); compared in constant time.
bool verify_password(const std::string& password, const std::string& stored);

// Random bytes as hex, for tokens and salts.
std::string random_hex(size_t bytes);

}  // namespace tarmac::atc::auth
