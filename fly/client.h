#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "fly/flyrc.h"

namespace tarmac::fly {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// fly's side of the API: requests to a target with its token, over libcurl (TLS verified
// against the target's CA unless it is insecure).
class Client {
 public:
  explicit Client(Target target) : target_(std::move(target)) {}

  // A transport failure is an Error naming the URL; any HTTP status is a Reply.
  Result<Reply> request(const std::string& method, const std::string& route,
                        const std::string& body = "",
                        const std::map<std::string, std::string>& headers = {});
  // GET `route` and hand each chunk of the body to `on_data` as it arrives (SSE); false from
  // `on_data` stops the stream.
  Result<long> stream(const std::string& route, const std::map<std::string, std::string>& headers,
                      const std::function<bool(const std::string&)>& on_data);

  // POST with a body pulled from `read` as it is sent ("" = the end), chunked.
  Result<Reply> upload(const std::string& route, const std::map<std::string, std::string>& headers,
                       const std::function<Result<std::string>()>& read);
  // GET handing a 2xx body to `on_data` as it arrives (any other answer's body is in the
  // Reply); a transfer cut short is an error.
  Result<Reply> download(const std::string& route,
                         const std::function<bool(const std::string&)>& on_data);

  // The JSON of a 2xx answer; other answers become errors with the server's message ("not
  // authorized" for 401, with a hint to log in).
  Result<nlohmann::json> get_json(const std::string& route);
  Status put(const std::string& route, const std::string& body = "");

  const Target& target() const { return target_; }

 private:
  Target target_;
};

// The error for a non-2xx answer.
Error http_error(const std::string& what, const Reply& r);

// `s` escaped for a query string or a form body (RFC 3986 unreserved characters kept).
std::string form_escape(const std::string& s);

}  // namespace tarmac::fly
