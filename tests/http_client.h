#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace tarmac::testing {

struct HttpReply {
  int status = 0;  // 0: no answer (see error)
  std::string body, error;
  std::map<std::string, std::string> headers;  // lower-case names
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

// One HTTP/1.1 request to 127.0.0.1:`port`; `token` becomes a bearer Authorization header.
HttpReply http(int port, const std::string& method, const std::string& target,
               const std::string& token = "", const std::string& body = "",
               const std::map<std::string, std::string>& headers = {});

// Writes `bytes` to 127.0.0.1:`port` and reads until the server closes, `until` appears, or
// `timeout_ms` passes; returns what was read.
std::string raw_exchange(int port, const std::string& bytes, int timeout_ms,
                         const std::string& until = "");

}  // namespace tarmac::testing
