#include "atc/api/context.h"

#include <spdlog/spdlog.h>

#include <cerrno>

namespace tarmac::atc::api {

Response error_status(const Error& e) {
  switch (e.errnum()) {
    case ENOENT:
      return error_response(404, e.message());
    case EEXIST:
    case EBUSY:
      return error_response(409, e.message());
    case EINVAL:
      return error_response(400, e.message());
    case EACCES:
    case EPERM:
      return error_response(403, e.message());
    case EAGAIN: {
      Response r = error_response(503, e.message());
      r.headers["Retry-After"] = "1";
      return r;
    }
    default:
      spdlog::error("api: {}", e.what());
      return error_response(500, e.message());
  }
}

Handler authed(ApiContext& ctx, AuthedHandler fn) {
  return [&ctx, fn = std::move(fn)](Request& req) -> Response {
    std::string header = req.header("authorization");
    std::string token;
    // "Bearer <token>"; the scheme is case-insensitive.
    if (header.size() > 7 && strncasecmp(header.c_str(), "bearer ", 7) == 0)
      token = header.substr(7);
    auto id = ctx.accounts.authenticate(token);
    if (!id) return error_status(id.error());
    if (!*id) {
      Response r = error_response(401, "not authorized");
      r.headers["WWW-Authenticate"] = "Bearer";
      return r;
    }
    return fn(req, **id);
  };
}

std::optional<nlohmann::json> parse_body(const Request& req, Response& error) {
  auto j = nlohmann::json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    error = error_response(400, "malformed JSON body");
    return std::nullopt;
  }
  return j;
}

}  // namespace tarmac::atc::api
