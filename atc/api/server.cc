#include "atc/api/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

namespace tarmac::atc::api {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

constexpr auto kSsePollInterval = std::chrono::milliseconds(10);
constexpr auto kSseKeepalive = std::chrono::seconds(15);

template <typename Fields>
Request to_request(const http::request_header<Fields>& req, std::string body) {
  Request r;
  r.method = std::string(req.method_string());
  std::string target(req.target());
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    r.query_string = target.substr(q + 1);
    r.query = parse_query(r.query_string);
  }
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(field.value());
  }
  r.body = std::move(body);
  return r;
}

// Whatever ends a streaming exchange (the client going, the server stopping and dropping
// the coroutine), the other side of the pipe hears of it and stops.
struct PipeGuard {
  std::shared_ptr<BytePipe> pipe;
  bool producer;  // this side writes
  ~PipeGuard() {
    if (!pipe) return;
    if (producer)
      pipe->fail(Error("the request was cut off", ECONNRESET));
    else
      pipe->abandon(Error("the client went away", ECONNRESET));
  }
};

// A connection's coroutine waiting for a pipe to change (data, room, end) without polling:
// the pipe's waker posts to the connection's strand, which the coroutine runs on too, so the
// flag and the timer are only ever touched there. The flag keeps a change that lands
// between a try_ call and the wait.
class PipeWait {
 public:
  PipeWait(std::shared_ptr<BytePipe> pipe, const net::any_io_executor& strand)
      : pipe_(std::move(pipe)), state_(std::make_shared<State>(strand)) {
    // Nothing is posted once the coroutine (and its strand's user) is gone.
    pipe_->set_waker([weak = std::weak_ptr<State>(state_)] {
      if (auto s = weak.lock())
        net::post(s->strand, [weak] {
          if (auto s = weak.lock()) {
            s->changed = true;
            s->timer.cancel();
          }
        });
    });
  }
  ~PipeWait() { pipe_->set_waker(nullptr); }
  PipeWait(const PipeWait&) = delete;
  PipeWait& operator=(const PipeWait&) = delete;

  net::awaitable<void> changed() {
    if (!state_->changed) {
      // A long safety net only: the waker ends the wait.
      state_->timer.expires_after(std::chrono::seconds(1));
      boost::system::error_code ec;
      co_await state_->timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    state_->changed = false;
  }

 private:
  struct State {
    explicit State(const net::any_io_executor& strand) : strand(strand), timer(strand) {}
    net::any_io_executor strand;
    net::steady_timer timer;
    bool changed = false;
  };
  std::shared_ptr<BytePipe> pipe_;
  std::shared_ptr<State> state_;
};

http::response<http::string_body> to_response(Response& resp, unsigned version, bool keep) {
  http::response<http::string_body> out{static_cast<http::status>(resp.status), version};
  out.set(http::field::server, "tarmac");
  for (auto& [k, v] : resp.headers) out.set(k, v);
  out.body() = std::move(resp.body);
  out.keep_alive(keep);
  out.prepare_payload();
  return out;
}

class ServerImpl final : public Server {
 public:
  ServerImpl(ServerOptions o, const Router& router)
      : o_(std::move(o)),
        router_(router),
        ioc_(std::make_unique<net::io_context>()),
        acceptor_(std::in_place, *ioc_) {}
  ~ServerImpl() override { stop(); }

  Status listen() {
    if (!o_.cert_file.empty() || !o_.key_file.empty()) {
      if (o_.cert_file.empty() || o_.key_file.empty())
        return Error("https: give both a certificate and a key", EINVAL);
      tls_.emplace(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      tls_->use_certificate_chain_file(o_.cert_file, ec);
      if (ec) return Error("https: certificate " + o_.cert_file + ": " + ec.message(), EINVAL);
      tls_->use_private_key_file(o_.key_file, ssl::context::pem, ec);
      if (ec) return Error("https: key " + o_.key_file + ": " + ec.message(), EINVAL);
    }
    boost::system::error_code ec;
    auto address = net::ip::make_address(o_.bind_ip, ec);
    if (ec) return Error("listen: bad address \"" + o_.bind_ip + "\"", EINVAL);
    tcp::endpoint ep(address, static_cast<unsigned short>(o_.port));
    acceptor_->open(ep.protocol(), ec);
    if (!ec) acceptor_->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(ep, ec);
    if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return Error("listen on " + o_.bind_ip + ":" + std::to_string(o_.port) + ": " + ec.message(),
                   ec.value());
    port_ = acceptor_->local_endpoint().port();
    net::co_spawn(*ioc_, accept_loop(), net::detached);
    for (int i = 0; i < std::max(1, o_.threads); ++i)
      threads_.emplace_back([this] { ioc_->run(); });
    return ok_status();
  }

  int port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) return;
    ioc_->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    // Dropping the coroutines fails their pipes, which ends the handlers reading them: they
    // use the router's context, so they must be gone before this returns.
    acceptor_.reset();
    ioc_.reset();
    std::unique_lock lock(handlers_mu_);
    handlers_done_.wait(lock, [&] { return handlers_ == 0; });
  }

 private:
  net::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      // Each connection on a strand of its own: its coroutine and its request timer never
      // run at once.
      // Made apart: GCC 12 destroys a temporary bound to a reference twice when its
      // statement also co_awaits (see serve_websocket).
      auto strand = net::make_strand(*ioc_);
      tcp::socket socket =
          co_await acceptor_->async_accept(strand, net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        if (ec == net::error::operation_aborted) co_return;
        continue;  // EMFILE and the like: keep accepting
      }
      auto executor = socket.get_executor();
      beast::tcp_stream stream(std::move(socket));
      if (tls_) {
        net::co_spawn(executor, tls_session(std::move(stream)), net::detached);
      } else {
        net::co_spawn(executor, session(std::move(stream)), net::detached);
      }
    }
  }

  net::awaitable<void> tls_session(beast::tcp_stream stream) {
    beast::ssl_stream<beast::tcp_stream> s(std::move(stream), *tls_);
    beast::get_lowest_layer(s).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
    boost::system::error_code ec;
    co_await s.async_handshake(ssl::stream_base::server,
                               net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    co_await session(std::move(s));
  }

  template <typename Stream>
  net::awaitable<void> session(Stream stream) {
    const auto executor = co_await net::this_coro::executor;
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::empty_body> head;
      head.body_limit(o_.max_body_bytes);
      head.header_limit(64 * 1024);
      // The whole request must arrive within the timeout. The timer cancels the read rather
      // than closing the socket, so a client that started a request hears 408.
      beast::get_lowest_layer(stream).expires_never();
      struct ReadState {
        bool timed_out = false, done = false;
      };
      auto state = std::make_shared<ReadState>();
      net::steady_timer deadline(executor);
      deadline.expires_after(std::chrono::seconds(o_.io_timeout_seconds));
      // Runs on this connection's strand; once the read is done (the handler may already be
      // queued) it touches nothing.
      deadline.async_wait([state, &stream](boost::system::error_code e) {
        if (e || state->done) return;
        state->timed_out = true;
        boost::system::error_code ignored;
        beast::get_lowest_layer(stream).socket().cancel(ignored);
      });
      boost::system::error_code ec;
      co_await http::async_read_header(stream, buffer, head,
                                       net::redirect_error(net::use_awaitable, ec));
      bool got_some = head.got_some();
      bool streaming = false;
      std::optional<http::request_parser<http::string_body>> whole;
      if (!ec) {
        const auto& h = head.get();
        std::string target(h.target());
        streaming = router_.streams_body(std::string(h.method_string()),
                                         target.substr(0, target.find('?')));
        if (!streaming) {
          whole.emplace(std::move(head));
          whole->body_limit(o_.max_body_bytes);
          co_await http::async_read(stream, buffer, *whole,
                                    net::redirect_error(net::use_awaitable, ec));
        }
      }
      state->done = true;
      deadline.cancel();
      bool timed_out = state->timed_out;
      if (timed_out && !got_some) break;  // an idle keep-alive connection
      if (!timed_out && (ec == http::error::end_of_stream || ec == net::error::eof ||
                         ec == net::error::connection_reset))
        break;
      if (ec) {
        bool too_big = ec == http::error::body_limit;
        Response r =
            timed_out ? error_response(408, "request not received within " +
                                                std::to_string(o_.io_timeout_seconds) + " s")
            : too_big ? error_response(413, "request body over " +
                                                std::to_string(o_.max_body_bytes) + " bytes")
                      : error_response(400, "malformed request: " + ec.message());
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
        auto out = to_response(r, 11, false);
        co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
        if (!ec) co_await linger(stream);
        break;
      }
      Response resp;
      unsigned version;
      bool keep;
      http::request<http::string_body> raw;
      if (streaming) {
        version = head.get().version();
        keep = head.get().keep_alive();
        bool whole_body = false;
        resp = co_await dispatch_streaming(stream, buffer, head, whole_body);
        if (!whole_body) {
          // The body was not read to its end: answer, then close.
          auto out = to_response(resp, version, false);
          beast::get_lowest_layer(stream).expires_after(
              std::chrono::seconds(o_.io_timeout_seconds));
          co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
          if (!ec) co_await linger(stream);
          break;
        }
      } else {
        raw = whole->release();
        keep = raw.keep_alive();
        version = raw.version();
        Request req = to_request(raw, std::move(raw.body()));
        resp = dispatch(req);
      }
      if (resp.websocket) {
        if (!streaming && websocket::is_upgrade(raw)) {
          co_await serve_websocket(stream, raw, resp.websocket);
          break;
        }
        resp = error_response(400, "expected a WebSocket upgrade");
      }
      if (resp.events) {
        co_await stream_events(stream, resp, version);
        break;
      }
      if (resp.body_stream) {
        co_await stream_body(stream, resp, version);
        break;
      }
      auto out = to_response(resp, version, keep);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
      co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
      if (ec || !keep) break;
    }
    boost::system::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  // The upgrade, then two loops on this connection's strand: client messages into the
  // session's pipe, the session's messages out, while the session runs on a thread of its
  // own. Pings keep an idle connection alive and find a dead one.
  template <typename Stream>
  net::awaitable<void> serve_websocket(Stream& stream, http::request<http::string_body>& req,
                                       std::shared_ptr<WebSocketSession> session) {
    beast::get_lowest_layer(stream).expires_never();
    boost::system::error_code ec;
    auto from_client = std::make_shared<BytePipe>();
    auto to_client = std::make_shared<BytePipe>();
    // Until the upgrade is done the guards end the session's pipes, and so the session, if
    // it goes wrong.
    PipeGuard guard_in{from_client, true}, guard_out{to_client, false};
    auto done = std::make_shared<std::atomic<bool>>(false);
    websocket::stream<Stream&> ws(stream);
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws.read_message_max(1 << 20);
    co_await ws.async_accept(req, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    bool started = start_handler([session, from_client, to_client, done] {
      try {
        session->run(*from_client, *to_client);
      } catch (const std::exception& e) {
        spdlog::error("api: websocket session: {}", e.what());
      }
      to_client->close();
      from_client->abandon(Error("the session ended"));
      *done = true;
    });
    if (!started) {
      // Refused after the upgrade, as the hijack protocol's error message: a client reads
      // a declined upgrade's reason poorly (Boost 1.74's Beast hands it no response at all).
      std::string refusal = nlohmann::json{{"error", busy_message()}}.dump() + "\n";
      ws.text(true);
      co_await ws.async_write(net::buffer(refusal), net::redirect_error(net::use_awaitable, ec));
      if (!ec)
        co_await ws.async_close(websocket::close_code::try_again_later,
                                net::redirect_error(net::use_awaitable, ec));
      co_return;
    }

    // The executor first, and a named coroutine rather than a lambda: GCC 12 destroys twice a
    // temporary bound to a reference (as a lambda passed to co_spawn is) in a statement that
    // also co_awaits. That freed these shared pointers under the running session (valgrind
    // showed it; the web crashed now and then under load).
    const auto executor = co_await net::this_coro::executor;
    auto reading = std::make_shared<std::atomic<bool>>(true);
    net::co_spawn(executor, read_websocket(ws, from_client, reading, executor), net::detached);

    net::steady_timer wait(executor);
    PipeWait output(to_client, executor);
    std::string pending;
    bool closed = false;
    for (;;) {
      auto polled = to_client->try_read(pending);
      if (!polled) break;
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        ws.text(true);
        co_await ws.async_write(net::buffer(pending.data() + start, nl - start),
                                net::redirect_error(net::use_awaitable, ec));
        if (ec) break;
      }
      pending.erase(0, start);
      if (ec || !*reading) break;
      if (*polled == BytePipe::Poll::kEnd) {
        co_await ws.async_close(websocket::close_code::normal,
                                net::redirect_error(net::use_awaitable, ec));
        closed = true;
        break;
      }
      if (*polled == BytePipe::Poll::kEmpty) co_await output.changed();
    }
    // The reader holds `ws`: it must be done before this frame goes.
    if (!closed) beast::get_lowest_layer(stream).socket().cancel(ec);
    from_client->fail(Error("the connection ended", ECONNRESET));
    to_client->abandon(Error("the connection ended", ECONNRESET));
    while (*reading || !*done) {
      if (*reading) beast::get_lowest_layer(stream).socket().cancel(ec);
      wait.expires_after(std::chrono::milliseconds(5));
      co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }

  // Client messages, one per line, into the session's pipe until the client goes; `reading`
  // false once it no longer touches `ws`.
  template <typename Ws>
  static net::awaitable<void> read_websocket(Ws& ws, std::shared_ptr<BytePipe> from_client,
                                             std::shared_ptr<std::atomic<bool>> reading,
                                             net::any_io_executor executor) {
    // However this ends (an exception too), the session hears of it and `ws` is let go.
    struct Done {
      BytePipe& from_client;
      std::atomic<bool>& reading;
      ~Done() {
        from_client.fail(Error("the client went away", ECONNRESET));
        reading = false;
      }
    } done{*from_client, *reading};
    beast::flat_buffer buf;
    PipeWait room(from_client, executor);
    boost::system::error_code ec;
    for (;;) {
      co_await ws.async_read(buf, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      std::string line = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      line.erase(std::remove(line.begin(), line.end(), '\n'), line.end());
      line += '\n';
      for (;;) {
        auto taken = from_client->try_write(line);
        if (!taken || *taken) break;
        co_await room.changed();
      }
    }
  }

  std::string busy_message() const {
    return "too many streaming requests at once (" + std::to_string(o_.max_streaming_handlers) +
           ", --max-streaming-requests): try again";
  }
  Response busy_response() const { return error_response(503, busy_message()); }

  // `work` on a thread of its own, counted in handlers_ (stop() waits for them); false, and
  // nothing started, when max_streaming_handlers already run or no thread can be made.
  bool start_handler(std::function<void()> work) {
    {
      std::lock_guard lock(handlers_mu_);
      if (handlers_ >= o_.max_streaming_handlers) return false;
      ++handlers_;
    }
    auto finished = [this] {
      std::lock_guard lock(handlers_mu_);
      --handlers_;
      handlers_done_.notify_all();
    };
    try {
      std::thread([work = std::move(work), finished] {
        work();
        finished();
      }).detach();
    } catch (const std::system_error& e) {
      spdlog::warn("api: no thread for a streaming request: {}", e.what());
      finished();
      return false;
    }
    return true;
  }

  Response dispatch(Request& req) {
    try {
      return router_.dispatch(req);
    } catch (const std::exception& e) {
      spdlog::error("api: {} {}: {}", req.method, req.path, e.what());
      return error_response(500, "internal error");
    }
  }

  // The handler runs on a thread of its own, reading the body from a pipe that this
  // coroutine fills as the body arrives (each chunk within the timeout). `whole_body` says
  // whether the body was read to its end (else the connection must close).
  template <typename Stream>
  net::awaitable<Response> dispatch_streaming(Stream& stream, beast::flat_buffer& buffer,
                                              http::request_parser<http::empty_body>& head,
                                              bool& whole_body) {
    struct Job {
      Response resp;
      std::atomic<bool> done{false};
    };
    auto job = std::make_shared<Job>();
    auto pipe = std::make_shared<BytePipe>();
    PipeGuard guard{pipe, true};
    Request req = to_request(head.get(), "");
    req.body_stream = pipe;
    bool started = start_handler([this, job, req = std::move(req)]() mutable {
      job->resp = dispatch(req);
      // Done first: the abandon wakes the coroutine below, which then finds the answer.
      job->done = true;
      req.body_stream->abandon(Error("the handler has answered"));
    });
    // The body unread: the caller answers, then closes.
    if (!started) co_return busy_response();

    http::request_parser<http::buffer_body> body{std::move(head)};
    body.body_limit(std::numeric_limits<std::uint64_t>::max());
    std::vector<char> buf(256 * 1024);
    const auto executor = co_await net::this_coro::executor;
    PipeWait room(pipe, executor);
    boost::system::error_code ec;
    while (!body.is_done() && !job->done) {
      body.get().body().data = buf.data();
      body.get().body().size = buf.size();
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
      co_await http::async_read(stream, buffer, body, net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        pipe->fail(Error("request body: " + ec.message(), ECONNRESET));
        break;
      }
      std::string_view chunk(buf.data(), buf.size() - body.get().body().size);
      // Waits (without holding the I/O thread) while the handler catches up.
      for (;;) {
        auto taken = pipe->try_write(chunk);
        if (!taken || *taken) break;  // taken, or the handler stopped reading
        co_await room.changed();
      }
    }
    whole_body = !ec && body.is_done();
    if (whole_body) pipe->close();
    beast::get_lowest_layer(stream).expires_never();
    while (!job->done) co_await room.changed();
    co_return std::move(job->resp);
  }

  // The header of a response whose body follows as it is made (the connection closes
  // after it); false if the client is gone.
  template <typename Stream>
  net::awaitable<bool> write_head(Stream& stream, Response& resp, unsigned version, bool chunked) {
    http::response<http::empty_body> head{static_cast<http::status>(resp.status), version};
    head.set(http::field::server, "tarmac");
    for (auto& [k, v] : resp.headers) head.set(k, v);
    head.keep_alive(false);
    if (chunked) head.chunked(true);
    http::response_serializer<http::empty_body> sr{head};
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
    co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
    co_return !ec;
  }

  // A chunked body from the response's pipe. A producer failure ends the connection without
  // the last chunk: the client sees a broken transfer rather than a short file.
  template <typename Stream>
  net::awaitable<void> stream_body(Stream& stream, Response& resp, unsigned version) {
    PipeGuard guard{resp.body_stream, false};
    if (!co_await write_head(stream, resp, version, true)) co_return;
    boost::system::error_code ec;
    const auto executor = co_await net::this_coro::executor;
    PipeWait more(resp.body_stream, executor);
    for (;;) {
      std::string chunk;
      auto polled = resp.body_stream->try_read(chunk);
      if (!polled) {
        spdlog::warn("api: streamed response cut short: {}", polled.error().what());
        co_return;
      }
      if (*polled == BytePipe::Poll::kEnd) break;
      if (*polled == BytePipe::Poll::kEmpty) {
        co_await more.changed();
        continue;
      }
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
      // Chunks as locals: they hold shared pointers (see accept_loop on temporaries).
      auto body = http::make_chunk(net::buffer(chunk));
      co_await net::async_write(stream, body, net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
    auto last = http::make_chunk_last();
    co_await net::async_write(stream, last, net::redirect_error(net::use_awaitable, ec));
  }

  // A lingering close: what the client still sends (the rest of a refused body) is read and
  // dropped for a while, so it gets to read the answer instead of a connection reset.
  template <typename Stream>
  net::awaitable<void> linger(Stream& stream) {
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ec);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
    std::vector<char> buf(64 * 1024);
    size_t total = 0;
    while (total < (64u << 20)) {
      size_t n = co_await stream.async_read_some(net::buffer(buf),
                                                 net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      total += n;
    }
  }

  // The header, then events as they come; the body ends when the connection closes.
  template <typename Stream>
  net::awaitable<void> stream_events(Stream& stream, Response& resp, unsigned version) {
    if (!co_await write_head(stream, resp, version, false)) co_return;
    boost::system::error_code ec;
    const auto executor = co_await net::this_coro::executor;
    net::steady_timer timer(executor);
    int idle = 0;
    for (;;) {
      std::string chunk;
      EventSource::Poll more;
      try {
        more = resp.events->poll(chunk);
      } catch (const std::exception& e) {
        spdlog::error("api: event stream: {}", e.what());
        co_return;
      }
      if (!chunk.empty()) {
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(o_.io_timeout_seconds));
        co_await net::async_write(stream, net::buffer(chunk),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
      }
      if (more == EventSource::Poll::kEnd) co_return;
      // A comment now and then finds a client that went away, and keeps proxies from timing
      // the stream out.
      if (chunk.empty() && ++idle * kSsePollInterval >= kSseKeepalive) {
        idle = 0;
        chunk = ":\n\n";
        co_await net::async_write(stream, net::buffer(chunk),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return;
        chunk.clear();
      }
      if (chunk.empty()) {
        timer.expires_after(kSsePollInterval);
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
    }
  }

  ServerOptions o_;
  const Router& router_;
  std::unique_ptr<net::io_context> ioc_;
  std::optional<ssl::context> tls_;
  std::optional<tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::atomic<bool> stopped_{false};
  std::mutex handlers_mu_;
  std::condition_variable handlers_done_;
  int handlers_ = 0;  // streaming handlers still running on their threads
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(ServerOptions options, const Router& router) {
  auto s = std::make_unique<ServerImpl>(std::move(options), router);
  TARMAC_TRY(s->listen());
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace tarmac::atc::api
