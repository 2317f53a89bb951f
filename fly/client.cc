#include "fly/client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>

namespace tarmac::fly {
namespace {

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

struct Transfer {
  std::string body;
  std::map<std::string, std::string> headers;
  // Set: a 2xx body goes here as it arrives instead of into `body`.
  const std::function<bool(const std::string&)>* on_data = nullptr;
  // Set: the request body is pulled from here (sent chunked).
  const std::function<Result<std::string>()>* upload = nullptr;
  std::string pending;  // pulled but not yet handed to libcurl
  size_t pending_at = 0;
  std::optional<Error> upload_error;
  CURL* curl = nullptr;
};

size_t on_body(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string chunk(p, size * n);
  long status = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (t->on_data && status / 100 == 2) return (*t->on_data)(chunk) ? chunk.size() : 0;
  t->body += chunk;
  return chunk.size();
}

size_t on_read(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  while (t->pending_at == t->pending.size()) {
    auto next = (*t->upload)();
    if (!next) {
      t->upload_error = std::move(next).error();
      return CURL_READFUNC_ABORT;
    }
    if (next->empty()) return 0;  // the end
    t->pending = std::move(*next);
    t->pending_at = 0;
  }
  size_t len = std::min(size * n, t->pending.size() - t->pending_at);
  std::memcpy(p, t->pending.data() + t->pending_at, len);
  t->pending_at += len;
  return len;
}

size_t on_header(char* p, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(p, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    t->headers[name] = value;
  }
  return size * n;
}

Result<long> perform(const Target& target, const std::string& method, const std::string& route,
                     const std::string& body, const std::map<std::string, std::string>& headers,
                     Transfer& t) {
  static CurlGlobal global;
  CURL* c = curl_easy_init();
  if (!c) return Error("http: cannot start libcurl", ENOMEM);
  t.curl = c;
  std::string url = target.api + route;
  curl_slist* list = nullptr;
  if (!target.token_value.empty())
    list = curl_slist_append(list, ("Authorization: Bearer " + target.token_value).c_str());
  for (const auto& [k, v] : headers) list = curl_slist_append(list, (k + ": " + v).c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (t.upload) {
    list = curl_slist_append(list, "Transfer-Encoding: chunked");
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
  } else if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  if (target.insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_blob ca{};
  if (!target.ca_cert.empty()) {
    ca.data = const_cast<char*>(target.ca_cert.data());
    ca.len = target.ca_cert.size();
    ca.flags = CURL_BLOB_COPY;
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  }
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  if (t.upload_error) return t.upload_error->wrap(method + " " + url);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.on_data))
    return Error(method + " " + url + ": " + curl_easy_strerror(rc), EAGAIN);
  return status;
}

}  // namespace

std::string form_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Error http_error(const std::string& what, const Reply& r) {
  std::string msg = r.body;
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (r.status == 401) return Error(what + ": not authorized; run `fly -t <target> login`", EACCES);
  if (r.status == 403) return Error(what + ": forbidden" + (msg.empty() ? "" : ": " + msg), EACCES);
  if (r.status == 404) return Error(what + ": " + (msg.empty() ? "not found" : msg), ENOENT);
  return Error(what + ": " + std::to_string(r.status) + (msg.empty() ? "" : " " + msg), EIO);
}

Result<Reply> Client::request(const std::string& method, const std::string& route,
                              const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  Transfer t;
  auto status = perform(target_, method, route, body, headers, t);
  if (!status) return std::move(status).error();
  return Reply{*status, std::move(t.body), std::move(t.headers)};
}

Result<long> Client::stream(const std::string& route,
                            const std::map<std::string, std::string>& headers,
                            const std::function<bool(const std::string&)>& on_data) {
  Transfer t;
  t.on_data = &on_data;
  return perform(target_, "GET", route, "", headers, t);
}

Result<Reply> Client::upload(const std::string& route,
                             const std::map<std::string, std::string>& headers,
                             const std::function<Result<std::string>()>& read) {
  Transfer t;
  t.upload = &read;
  auto status = perform(target_, "POST", route, "", headers, t);
  if (!status) return std::move(status).error();
  return Reply{*status, std::move(t.body), std::move(t.headers)};
}

Result<Reply> Client::download(const std::string& route,
                               const std::function<bool(const std::string&)>& on_data) {
  Transfer t;
  t.on_data = &on_data;
  auto status = perform(target_, "GET", route, "", {}, t);
  if (!status) return std::move(status).error();
  return Reply{*status, std::move(t.body), std::move(t.headers)};
}

Result<nlohmann::json> Client::get_json(const std::string& route) {
  auto r = request("GET", route);
  if (!r) return std::move(r).error();
  if (r->status / 100 != 2) return http_error("GET " + route, *r);
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return Error("GET " + route + ": the answer is not JSON", EIO);
  return j;
}

Status Client::put(const std::string& route, const std::string& body) {
  auto r = request("PUT", route, body, {{"Content-Type", "application/json"}});
  if (!r) return std::move(r).error();
  if (r->status / 100 != 2) return http_error("PUT " + route, *r);
  return ok_status();
}

}  // namespace tarmac::fly
