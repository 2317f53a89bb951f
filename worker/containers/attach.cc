#include "worker/containers/attach.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/fs.h"
#include "worker/containers/shim_client.h"
#include "worker/runtime/state_store.h"
#include "worker/shim/output_log.h"

namespace tarmac::containers {
namespace {

namespace v1 = worker::v1;

constexpr size_t kBatchBytes = 256 * 1024;
constexpr int kWakeupMs = 200;  // how often a quiet stream looks for a gone client

// Forwards the client's messages after the first to the shim until the client half-closes
// or the call ends.
class InputPump {
 public:
  InputPump(ProcessStream* stream, std::optional<ShimConnection> conn)
      : conn_(std::move(conn)), thread_([this, stream] { run(stream); }) {}
  ~InputPump() { thread_.join(); }

  // Waits up to `timeout` for the client to half-close; false if it has not.
  bool wait_done(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  void run(ProcessStream* stream) {
    v1::ProcessInput in;
    while (stream->Read(&in)) {
      if (!conn_) continue;  // the process has ended: nothing to deliver to
      Status s;
      switch (in.input_case()) {
        case v1::ProcessInput::kStdin:
          s = conn_->send_stdin(in.stdin());
          break;
        case v1::ProcessInput::kCloseStdin:
          if (in.close_stdin()) s = conn_->close_stdin();
          break;
        case v1::ProcessInput::kResize:
          s = conn_->resize(
              static_cast<uint16_t>(std::min<uint32_t>(in.resize().rows(), 0xffff)),
              static_cast<uint16_t>(std::min<uint32_t>(in.resize().columns(), 0xffff)));
          break;
        case v1::ProcessInput::kSignal:
          s = conn_->signal(in.signal());
          break;
        default:
          break;  // a second run/attach means nothing here
      }
      if (!s.ok()) conn_.reset();
    }
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

  std::optional<ShimConnection> conn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

v1::ProcessOutput output_of(const shim::OutputChunk& c) {
  v1::ProcessOutput out;
  auto* o = out.mutable_output();
  o->set_stream(c.stream == shim::Stream::kStderr ? v1::ProcessOutput::STDERR
                                                  : v1::ProcessOutput::STDOUT);
  o->set_data(c.data);
  o->set_next_offset(c.end_offset);
  return out;
}

}  // namespace

grpc::Status serve_process(grpc::ServerContext* context, ProcessStream* stream,
                           const std::string& dir, const std::string& output_dir,
                           const std::string& process_id, uint64_t from_offset) {
  auto reader = shim::OutputLogReader::open(output_dir, from_offset);
  if (!reader) return grpc::Status(grpc::StatusCode::INTERNAL, reader.error().what());
  auto wake = ShimConnection::connect(dir);
  auto input = ShimConnection::connect(dir);
  if (!wake || !input)
    return grpc::Status(grpc::StatusCode::INTERNAL, (!wake ? wake.error() : input.error()).what());
  std::optional<ShimConnection> shim = std::move(*wake);
  InputPump pump(stream, std::move(*input));
  const std::string exit_path = dir + "/" + shim::kExitFile;

  grpc::Status result = grpc::Status::OK;
  bool client_gone = false;
  for (;;) {
    if (context->IsCancelled()) {
      client_gone = true;
      break;
    }
    // Looked at before reading: once the exit file exists all output is in the log.
    bool exited = fs::exists(exit_path);
    auto batch = reader->read(kBatchBytes);
    if (!batch) {
      result = grpc::Status(grpc::StatusCode::INTERNAL,
                            "process " + process_id + ": " + batch.error().what());
      break;
    }
    if (batch->dropped) {
      v1::ProcessOutput out;
      out.set_dropped(batch->dropped);
      if (!stream->Write(out)) client_gone = true;
    }
    for (const shim::OutputChunk& c : batch->chunks)
      if (!client_gone && !stream->Write(output_of(c))) client_gone = true;
    if (client_gone) break;
    if (!batch->chunks.empty()) continue;
    if (exited) {
      auto text = fs::read_file(exit_path);
      auto st =
          text ? runtime::parse_exit_record(*text) : Result<runtime::ExitStatus>(text.error());
      if (!st) {
        result = grpc::Status(grpc::StatusCode::INTERNAL,
                              "process " + process_id + ": " + st.error().what());
        break;
      }
      v1::ProcessOutput out;
      out.mutable_exit()->set_exit_code(st->exit_code);
      out.mutable_exit()->set_signal(st->signal);
      stream->Write(out);
      break;
    }
    if (!shim) {
      // No shim and, a moment ago, no exit file: look once more, since the shim writes the
      // file just before it goes.
      if (fs::exists(exit_path)) continue;
      result = grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          "process " + process_id + ": its shim is gone and left no exit status (killed?)");
      break;
    }
    auto w = shim->wait(kWakeupMs);
    if (!w) shim.reset();
  }
  // Give a well-behaved client a moment to half-close; then end the call for it.
  if (client_gone || !pump.wait_done(std::chrono::seconds(1))) context->TryCancel();
  return result;
}

}  // namespace tarmac::containers
