#include "atc/api/router.h"

namespace tarmac::atc::api {
namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.push_back({method, split(pattern), std::move(handler)});
}

Response Router::dispatch(Request& request) const {
  auto segments = split(request.path);
  std::string allow;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& want = route.segments[i];
      if (!want.empty() && want[0] == ':')
        params[want.substr(1)] = url_decode(segments[i], false);
      else
        match = want == segments[i];
    }
    if (!match) continue;
    if (route.method != request.method) {
      allow += (allow.empty() ? "" : ", ") + route.method;
      continue;
    }
    request.params = std::move(params);
    return route.handler(request);
  }
  if (!allow.empty()) {
    Response r = error_response(405, "method " + request.method + " not allowed on " +
                                         request.path + " (allowed: " + allow + ")");
    r.headers["Allow"] = allow;
    return r;
  }
  return error_response(404, "no route " + request.path);
}

}  // namespace tarmac::atc::api
