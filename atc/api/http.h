#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/byte_pipe.h"

namespace tarmac::atc::api {

// A request as handlers see it: the route's parameters decoded, the query parsed, the body
// whole (bounded by the server).
struct Request {
  std::string method;  // "GET", "PUT", …
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;   // ":team_name" → value
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  // Routes added with Router::add_streaming get the body as it arrives here instead (their
  // handler runs on a thread of its own while the server reads).
  std::shared_ptr<BytePipe> body_stream;
  std::string query_string;  // raw, for repeated keys ("tags=a&tags=b")

  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

// A stream of Server-Sent Events, pulled by the server: `poll` appends what is ready to
// `out` and says whether the stream goes on. The server waits a little when nothing was
// ready, and stops polling when the client goes. `poll` must not block for long: it runs on
// the server's I/O threads.
struct EventSource {
  enum class Poll { kMore, kEnd };
  std::function<Poll(std::string& out)> poll;
};

// A WebSocket exchange (after a handler accepted the upgrade): `run` is called on a thread
// of its own with the client's text messages arriving on `from_client` and its own written
// to `to_client`, one message per line (messages are JSON: no raw newlines). Closing
// `to_client` ends the exchange; a failed `from_client` means the client went away.
struct WebSocketSession {
  std::function<void(BytePipe& from_client, BytePipe& to_client)> run;
};

struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  std::shared_ptr<EventSource> events;  // set: an SSE response, body unused
  // Set: the body is what a producer writes here, sent chunked; a producer failure cuts the
  // response short (no last chunk), so the client sees a broken transfer, never a short one.
  std::shared_ptr<BytePipe> body_stream;
  // Set: the request is upgraded to a WebSocket served by this session (only answered as
  // such to an upgrade request).
  std::shared_ptr<WebSocketSession> websocket;
};

Response json_response(int status, const nlohmann::json& body);
Response empty_response(int status);
// Concourse answers API errors with a plain-text body; fly prints it as it is.
Response error_response(int status, const std::string& message);

// "a=1&b=%20x" → {"a": "1", "b": " x"}; '+' is a space (forms).
std::map<std::string, std::string> parse_query(const std::string& query);
// Every value of `key` in a query string, in order.
std::vector<std::string> query_values(const std::string& query, const std::string& key);
// Percent-decoding; in query strings and forms (`plus_is_space`) a + is a space too.
std::string url_decode(const std::string& s, bool plus_is_space = true);

}  // namespace tarmac::atc::api
