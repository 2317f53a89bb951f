#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "atc/api/http.h"

namespace tarmac::atc::api {

using Handler = std::function<Response(Request&)>;

// Routes "/api/v1/teams/:team_name/builds" patterns to handlers. An unknown path is 404, a
// known path with another method 405 (with Allow).
class Router {
 public:
  void add(const std::string& method, const std::string& pattern, Handler handler);
  // A route whose body is not read up front but handed over as it arrives
  // (Request::body_stream), for uploads of any size.
  void add_streaming(const std::string& method, const std::string& pattern, Handler handler);
  bool streams_body(const std::string& method, const std::string& path) const;
  Response dispatch(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    bool streaming = false;
  };
  static bool matches(const Route& route, const std::vector<std::string>& segments,
                      std::map<std::string, std::string>* params);
  const Route* match(const std::string& method, const std::vector<std::string>& segments,
                     std::map<std::string, std::string>* params, std::string* allow) const;
  std::vector<Route> routes_;
};

}  // namespace tarmac::atc::api
