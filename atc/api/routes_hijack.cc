// fly intercept: a process in a build's container over a WebSocket, as Concourse's hijack
// (GET /api/v1/teams/:team/containers/:id/hijack): the first client message is the process
// spec, then stdin, "closed" and terminal sizes; the answers are stdout, stderr, and the exit
// status or an error, all JSON with bytes in base64.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "atc/api/context.h"
#include "atc/api/hijack_messages.h"
#include "common/base64.h"
#include "common/uuid.h"

namespace tarmac::atc::api {
namespace {

namespace wv1 = worker::v1;

// Lines (client messages) from the pipe, one at a time; nullopt once it ends or fails.
class Lines {
 public:
  explicit Lines(BytePipe& pipe) : pipe_(pipe) {}
  std::optional<std::string> next() {
    for (;;) {
      if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto chunk = pipe_.read();
      if (!chunk || chunk->empty()) return std::nullopt;
      buf_ += *chunk;
    }
  }

 private:
  BytePipe& pipe_;
  std::string buf_;
};

// Never throws: text that is not UTF-8 (a worker's error message) is sent with U+FFFD.
void send(BytePipe& out, const nlohmann::json& message) {
  (void)out.write(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

struct Target {
  std::string handle, worker_address, user, dir;
  int64_t build_id = 0;
};

void serve(ApiContext& ctx, const Target& target, BytePipe& in, BytePipe& out) {
  Lines lines(in);
  auto first = lines.next();
  if (!first) return;
  auto spec = parse_hijack_spec(*first, target.dir, target.user);
  if (!spec) {
    send(out, {{"error", spec.error().message()}});
    return;
  }
  wv1::ProcessInput run;
  run.mutable_run()->set_handle(target.handle);
  *run.mutable_run()->mutable_process() = *spec;
  run.mutable_run()->mutable_process()->set_id("intercept-" + new_uuid().substr(0, 8));
  auto client = ctx.clients.get(target.worker_address);
  if (!client) {
    send(out, {{"error", client.error().message()}});
    return;
  }
  auto process = (*client)->open_process(run);
  if (!process) {
    send(out, {{"error", process.error().message()}});
    return;
  }
  auto& stream = *process->stream;
  // Reads happen on the reader thread; writes and the one Finish are serialized here, and
  // nothing is written once the stream is finished (gRPC allows neither overlap).
  std::mutex stream_mu;
  bool finished = false;
  auto write = [&](const wv1::ProcessInput& input) {
    std::lock_guard lock(stream_mu);
    return !finished && stream.Write(input);
  };
  auto finish = [&]() {
    std::lock_guard lock(stream_mu);
    grpc::Status status;
    if (!finished) {
      finished = true;
      status = stream.Finish();
    }
    return status;
  };

  // Output to the client until the process ends; a while after the build is over the
  // container would be collected, so an open session keeps pushing that moment back.
  std::atomic<bool> ended{false};
  std::thread reader([&] {
    wv1::ProcessOutput o;
    bool started = false, exited = false;
    while (stream.Read(&o)) {
      if (o.has_started()) started = true;
      if (o.has_output()) {
        bool err = o.output().stream() == wv1::ProcessOutput::STDERR;
        send(out, {{err ? "stderr" : "stdout", base64_encode(o.output().data())}});
      } else if (o.has_exit()) {
        int code = o.exit().signal() ? 128 + o.exit().signal() : o.exit().exit_code();
        send(out, {{"exit_status", code}});
        exited = true;
        break;
      }
    }
    if (!exited) {
      // Reads are over: the stream's status says why it ended.
      std::string message = finish().error_message();
      // Nothing started: the executable is missing (fly retries bash with sh).
      if (!started && (message.find("No such file") != std::string::npos ||
                       message.find("errno 2)") != std::string::npos))
        send(out, {{"executable_not_found", true}});
      else
        send(out, {{"error", message.empty() ? "the process stream ended" : message}});
    }
    ended = true;
    out.close();
  });
  std::thread keeper([&] {
    for (int tick = 0; !ended; ++tick) {
      if (tick % 100 == 0 && target.build_id)
        (void)ctx.pool.query(
            "UPDATE builds SET interceptible_until = greatest(interceptible_until,"
            " now() + interval '5 minutes') WHERE id = $1 AND interceptible_until IS NOT NULL",
            target.build_id);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  bool stdin_open = true;
  while (auto line = lines.next()) {
    auto input = parse_hijack_input(*line);
    if (!input) continue;  // not a message we know (or fields of the wrong type): ignored
    if (input->has_close_stdin()) stdin_open = false;
    if (!write(*input)) break;
  }
  // The client is gone (or the process ended): hang up on a process still running, as a
  // closed terminal would.
  if (!ended) {
    if (stdin_open) {
      wv1::ProcessInput close;
      close.set_close_stdin(true);
      write(close);
    }
    wv1::ProcessInput hup;
    hup.set_signal(SIGHUP);
    write(hup);
    for (int i = 0; i < 50 && !ended; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!ended) process->context->TryCancel();
  }
  reader.join();
  ended = true;
  keeper.join();
  // The process exited (or the stream was cancelled): let go of the call.
  if (!finished) {
    process->context->TryCancel();
    wv1::ProcessOutput rest;
    while (stream.Read(&rest)) {
    }
    finish();
  }
}

Response hijack(ApiContext& ctx, Request& req, const auth::Identity& id) {
  const std::string& team = req.params["team_name"];
  if (!id.may(team, auth::Role::kMember)) return error_response(403, "forbidden");
  auto rows = ctx.pool.query(
      "SELECT c.handle, c.state, coalesce(c.build_id, 0) AS build_id, w.address,"
      " coalesce(c.meta->>'user', '') AS user, coalesce(c.meta->>'working_directory', '') AS dir"
      " FROM containers c JOIN teams t ON t.id = c.team_id JOIN workers w ON w.name = c.worker_name"
      " WHERE c.handle = $1 AND t.name = $2",
      req.params["id"], team);
  if (!rows) return error_status(rows.error());
  if (rows->empty() || (*rows)[0].str("state") != "created")
    return error_response(404, "container " + req.params["id"] + " not found");
  auto row = (*rows)[0];
  Target target{row.str("handle"), row.str("address"), row.str("user"), row.str("dir"),
                row.i64("build_id")};
  Response resp;
  resp.websocket = std::make_shared<WebSocketSession>();
  resp.websocket->run = [&ctx, target](BytePipe& in, BytePipe& out) {
    serve(ctx, target, in, out);
  };
  return resp;
}

}  // namespace

void add_hijack_routes(Router& r, ApiContext& ctx) {
  r.add(
      "GET", "/api/v1/teams/:team_name/containers/:id/hijack",
      authed(ctx, [&ctx](Request& req, const auth::Identity& id) { return hijack(ctx, req, id); }));
}

}  // namespace tarmac::atc::api
