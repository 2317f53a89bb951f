#include "tests/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>

namespace tarmac::testing {

namespace beast = boost::beast;
namespace http_ns = beast::http;
using tcp = boost::asio::ip::tcp;

HttpReply http(int port, const std::string& method, const std::string& target,
               const std::string& token, const std::string& body,
               const std::map<std::string, std::string>& headers) {
  HttpReply reply;
  try {
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(30));
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                 static_cast<unsigned short>(port)));
    http_ns::request<http_ns::string_body> req{http_ns::string_to_verb(method), target, 11};
    req.set(http_ns::field::host, "127.0.0.1");
    if (!token.empty()) req.set(http_ns::field::authorization, "Bearer " + token);
    for (auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    boost::system::error_code write_error;
    // A server may answer (413) before the whole body is sent: read the answer regardless.
    http_ns::write(stream, req, write_error);
    beast::flat_buffer buffer;
    http_ns::response_parser<http_ns::string_body> parser;
    parser.body_limit(64 << 20);
    http_ns::read(stream, buffer, parser);
    auto res = parser.release();
    reply.status = res.result_int();
    reply.body = res.body();
    for (auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = std::string(f.value());
    }
  } catch (const std::exception& e) {
    reply.error = e.what();
  }
  return reply;
}

std::string raw_exchange(int port, const std::string& bytes, int timeout_ms,
                         const std::string& until) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    (void)!::write(fd, bytes.data(), bytes.size());
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      pollfd p = {fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      char buf[4096];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, n);
      if (!until.empty() && out.find(until) != std::string::npos) break;
    }
  }
  ::close(fd);
  return out;
}

}  // namespace tarmac::testing
