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

void Router::add_streaming(const std::string& method, const std::string& pattern, Handler handler) {
  routes_.push_back({method, split(pattern), std::move(handler), true});
}

bool Router::matches(const Route& route, const std::vector<std::string>& segments,
                     std::map<std::string, std::string>* params) {
  if (route.segments.size() != segments.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (!want.empty() && want[0] == ':') {
      if (params) found[want.substr(1)] = url_decode(segments[i], false);
    } else if (want != segments[i]) {
      return false;
    }
  }
  if (params) *params = std::move(found);
  return true;
}

const Router::Route* Router::match(const std::string& method,
                                   const std::vector<std::string>& segments,
                                   std::map<std::string, std::string>* params,
                                   std::string* allow) const {
  for (const auto& route : routes_) {
    if (route.method != method) {
      if (allow && matches(route, segments, nullptr))
        *allow += (allow->empty() ? "" : ", ") + route.method;
      continue;
    }
    if (matches(route, segments, params)) return &route;
  }
  return nullptr;
}

bool Router::streams_body(const std::string& method, const std::string& path) const {
  // Asked of every request, so only the few streaming routes are looked at.
  std::vector<std::string> segments;
  for (const auto& route : routes_) {
    if (!route.streaming || route.method != method) continue;
    if (segments.empty()) segments = split(path);
    if (matches(route, segments, nullptr)) return true;
  }
  return false;
}

Response Router::dispatch(Request& request) const {
  std::string allow;
  const Route* route = match(request.method, split(request.path), &request.params, &allow);
  if (route) return route->handler(request);
  if (!allow.empty()) {
    Response r = error_response(405, "method " + request.method + " not allowed on " +
                                         request.path + " (allowed: " + allow + ")");
    r.headers["Allow"] = allow;
    return r;
  }
  return error_response(404, "no route " + request.path);
}

}  // namespace tarmac::atc::api
