#include "fly/hijack.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <optional>
#include <thread>

#include "common/base64.h"

namespace tarmac::fly {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

struct Url {
  bool tls = false;
  std::string host, port, prefix;
};

Result<Url> parse_url(const std::string& api) {
  Url u;
  std::string rest;
  if (api.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = api.substr(8);
  } else if (api.rfind("http://", 0) == 0) {
    rest = api.substr(7);
  } else {
    return Error("target url " + api + ": expected http:// or https://", EINVAL);
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.prefix = rest.substr(slash);
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
    u.port = u.tls ? "443" : "80";
  }
  return u;
}

nlohmann::json window_size() {
  struct winsize ws {};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || !ws.ws_col) return nullptr;
  return {{"window_size", {{"columns", ws.ws_col}, {"rows", ws.ws_row}}}};
}

// Raw mode for the session's length: keys go to the remote terminal as they are typed.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }

 private:
  struct termios saved_ {};
  bool active_ = false;
};

template <typename Ws>
class Session {
 public:
  Session(net::io_context& ioc, Ws& ws) : ioc_(ioc), ws_(ws), winch_(ioc, SIGWINCH) {}

  Result<HijackResult> run(const nlohmann::json& spec, bool tty, bool interactive) {
    send(spec.dump());
    read();
    if (tty) watch_window();
    if (interactive)
      forward_stdin();
    else
      send(nlohmann::json{{"closed", true}}.dump());
    ioc_.run();
    *alive_ = false;
    if (error_) return *error_;
    return result_;
  }

 private:
  // Stdin may be a file, a pipe or a terminal: a plain thread reads it whatever it is, and
  // hands each read to the session's thread.
  void forward_stdin() {
    std::thread([this, alive = alive_] {
      char buf[4096];
      for (;;) {
        ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        std::string msg = n > 0 ? nlohmann::json{{"stdin", base64_encode({buf, size_t(n)})}}.dump()
                                : nlohmann::json{{"closed", true}}.dump();
        if (!*alive) return;
        net::post(ioc_, [this, msg, alive] {
          if (*alive) send(msg);
        });
        if (n <= 0) return;
      }
    }).detach();
  }

  void send(std::string msg) {
    queue_.push_back(std::move(msg));
    if (queue_.size() == 1) write_next();
  }
  void write_next() {
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()), [this](beast::error_code ec, size_t) {
      if (ec) return finish(Error("intercept: " + ec.message(), EIO));
      queue_.pop_front();
      if (!queue_.empty()) write_next();
    });
  }
  void read() {
    ws_.async_read(buf_, [this](beast::error_code ec, size_t) {
      if (ec) {
        if (!done_) finish(Error("intercept: the connection ended: " + ec.message(), EIO));
        return;
      }
      auto m = nlohmann::json::parse(beast::buffers_to_string(buf_.data()), nullptr, false);
      buf_.consume(buf_.size());
      if (m.is_object()) handle(m);
      if (!done_) read();
    });
  }
  void handle(const nlohmann::json& m) {
    for (auto [key, fd] :
         {std::pair{"stdout", STDOUT_FILENO}, std::pair{"stderr", STDERR_FILENO}}) {
      if (auto it = m.find(key); it != m.end() && it->is_string()) {
        if (auto bytes = base64_decode(it->template get<std::string>())) write_all(fd, *bytes);
      }
    }
    if (m.value("executable_not_found", false)) {
      result_.executable_not_found = true;
      return finish(std::nullopt);
    }
    if (auto it = m.find("error"); it != m.end() && it->is_string())
      return finish(Error(it->template get<std::string>(), EIO));
    if (auto it = m.find("exit_status"); it != m.end() && it->is_number_integer()) {
      result_.exit_status = it->template get<int>();
      return finish(std::nullopt);
    }
  }
  void watch_window() {
    winch_.async_wait([this](beast::error_code ec, int) {
      if (ec || done_) return;
      if (auto size = window_size(); !size.is_null()) send(nlohmann::json{{"tty", size}}.dump());
      watch_window();
    });
  }
  void finish(std::optional<Error> e) {
    if (done_) return;
    done_ = true;
    error_ = std::move(e);
    winch_.cancel();
    ws_.async_close(websocket::close_code::normal, [this](beast::error_code) { ioc_.stop(); });
  }
  static void write_all(int fd, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
      ssize_t n = ::write(fd, s.data() + off, s.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  net::io_context& ioc_;
  Ws& ws_;
  net::signal_set winch_;
  beast::flat_buffer buf_;
  std::deque<std::string> queue_;
  bool done_ = false;
  std::optional<Error> error_;
  HijackResult result_;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

template <typename Ws>
Result<HijackResult> handshake_and_run(net::io_context& ioc, Ws& ws, const Url& url,
                                       const Target& target, const std::string& handle,
                                       nlohmann::json spec, bool interactive) {
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    if (!target.token_value.empty())
      req.set(beast::http::field::authorization, "Bearer " + target.token_value);
  }));
  std::string path =
      url.prefix + "/api/v1/teams/" + target.team + "/containers/" + handle + "/hijack";
  beast::error_code ec;
  ws.handshake(url.host + ":" + url.port, path, ec);
  // Boost 1.74's Beast keeps a declined upgrade's answer to itself (even with a response
  // argument), so its status cannot be told apart here.
  if (ec == websocket::error::upgrade_declined)
    return Error("intercept: the web node declined the WebSocket upgrade", EIO);
  if (ec) return Error("intercept: " + ec.message(), EIO);
  bool tty = interactive && ::isatty(STDIN_FILENO);
  if (tty) {
    auto size = window_size();
    spec["tty"] =
        size.is_null() ? nlohmann::json{{"window_size", {{"columns", 80}, {"rows", 24}}}} : size;
  }
  std::optional<RawTerminal> raw;
  if (tty) raw.emplace();
  Session<Ws> session(ioc, ws);
  return session.run(spec, tty, interactive);
}

}  // namespace

Result<HijackResult> hijack(const Target& target, const std::string& handle,
                            const nlohmann::json& spec, bool interactive) {
  auto url = parse_url(target.api);
  if (!url) return std::move(url).error();
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(url->host, url->port, ec);
  if (ec) return Error("intercept: resolve " + url->host + ": " + ec.message(), EHOSTUNREACH);
  if (!url->tls) {
    websocket::stream<tcp::socket> ws(ioc);
    net::connect(ws.next_layer(), endpoints, ec);
    if (ec) return Error("intercept: connect " + target.api + ": " + ec.message(), ECONNREFUSED);
    return handshake_and_run(ioc, ws, *url, target, handle, spec, interactive);
  }
  ssl::context tls(ssl::context::tls_client);
  if (target.insecure) {
    tls.set_verify_mode(ssl::verify_none);
  } else {
    if (!target.ca_cert.empty())
      tls.add_certificate_authority(net::buffer(target.ca_cert), ec);
    else
      tls.set_default_verify_paths(ec);
    if (ec) return Error("intercept: CA certificate: " + ec.message(), EINVAL);
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(ssl::host_name_verification(url->host));
  }
  websocket::stream<beast::ssl_stream<tcp::socket>> ws(ioc, tls);
  SSL_set_tlsext_host_name(ws.next_layer().native_handle(), url->host.c_str());
  net::connect(beast::get_lowest_layer(ws), endpoints, ec);
  if (ec) return Error("intercept: connect " + target.api + ": " + ec.message(), ECONNREFUSED);
  ws.next_layer().handshake(ssl::stream_base::client, ec);
  if (ec) return Error("intercept: TLS: " + ec.message(), EPROTO);
  return handshake_and_run(ioc, ws, *url, target, handle, spec, interactive);
}

}  // namespace tarmac::fly
