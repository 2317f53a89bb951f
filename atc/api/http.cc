#include "atc/api/http.h"

namespace tarmac::atc::api {

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "application/json";
  r.body = body.dump();
  return r;
}

Response empty_response(int status) {
  Response r;
  r.status = status;
  return r;
}

Response error_response(int status, const std::string& message) {
  Response r;
  r.status = status;
  r.headers["Content-Type"] = "text/plain; charset=utf-8";
  r.body = message + "\n";
  return r;
}

std::string url_decode(const std::string& s, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

namespace {

std::vector<std::pair<std::string, std::string>> query_pairs(const std::string& query) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    std::string part = query.substr(start, amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      if (eq == std::string::npos)
        out.emplace_back(url_decode(part), "");
      else
        out.emplace_back(url_decode(part.substr(0, eq)), url_decode(part.substr(eq + 1)));
    }
    start = amp + 1;
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> parse_query(const std::string& query) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : query_pairs(query)) out[k] = std::move(v);
  return out;
}

std::vector<std::string> query_values(const std::string& query, const std::string& key) {
  std::vector<std::string> out;
  for (auto& [k, v] : query_pairs(query))
    if (k == key) out.push_back(std::move(v));
  return out;
}

}  // namespace tarmac::atc::api
