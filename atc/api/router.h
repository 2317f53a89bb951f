#pragma once

#include <functional>
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
  Response dispatch(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace tarmac::atc::api
