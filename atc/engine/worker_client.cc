#include "atc/engine/worker_client.h"

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/grpc/status.h"

namespace tarmac::atc::engine {

namespace wv1 = worker::v1;

Result<std::unique_ptr<WorkerClient>> WorkerClient::connect(const std::string& address,
                                                            const TlsFiles& tls) {
  if (!tls.enabled() && !is_loopback_address(address))
    return Error("dial worker at " + address +
                     ": plaintext is for loopback only; give the web node TLS files",
                 EINVAL);
  auto creds = channel_credentials(tls);
  if (!creds) return std::move(creds).error().wrap("dial worker at " + address);
  auto c = std::make_unique<WorkerClient>();
  c->channel_ = grpc::CreateChannel(address, *creds);
  c->containers_ = wv1::Containers::NewStub(c->channel_);
  c->volumes_ = std::make_unique<baggageclaim::Client>(c->channel_);
  return c;
}

Result<std::optional<std::string>> WorkerClient::find_volume(
    const std::map<std::string, std::string>& props) {
  auto found = volumes_->list(props);
  if (!found) return std::move(found).error();
  if (found->empty()) return std::optional<std::string>();
  return std::optional<std::string>(found->front().handle);
}

Status WorkerClient::create_volume(const baggageclaim::CreateSpec& spec) {
  auto made = volumes_->create(spec);
  if (!made) return std::move(made).error();
  return ok_status();
}

Status WorkerClient::import_volume(const std::string& handle, const std::string& path,
                                   const std::map<std::string, std::string>& props) {
  baggageclaim::CreateSpec spec;
  spec.handle = handle;
  spec.strategy.kind = baggageclaim::Strategy::Kind::kImport;
  spec.strategy.import_path = path;
  spec.privileged = true;
  spec.properties = props;
  if (auto s = create_volume(spec); !s.ok()) return std::move(s).error().wrap("import " + path);
  return ok_status();
}

Status WorkerClient::empty_volume(const std::string& handle, bool privileged,
                                  const std::map<std::string, std::string>& props) {
  baggageclaim::CreateSpec spec;
  spec.handle = handle;
  spec.privileged = privileged;
  spec.properties = props;
  return create_volume(spec);
}

Status WorkerClient::cow_volume(const std::string& handle, const std::string& parent,
                                bool privileged) {
  baggageclaim::CreateSpec spec;
  spec.handle = handle;
  spec.strategy.kind = baggageclaim::Strategy::Kind::kCow;
  spec.strategy.parent = parent;
  spec.privileged = privileged;
  return create_volume(spec);
}

Status WorkerClient::create_container(const wv1::ContainerSpec& spec) {
  wv1::CreateContainerRequest req;
  *req.mutable_spec() = spec;
  wv1::Container c;
  grpc::ClientContext ctx;
  if (auto s = containers_->Create(&ctx, req, &c); !s.ok())
    return from_grpc("create container " + spec.handle(), s);
  return ok_status();
}

Status WorkerClient::destroy_container(const std::string& handle) {
  wv1::DestroyContainerRequest req;
  req.set_handle(handle);
  wv1::DestroyContainerResponse resp;
  grpc::ClientContext ctx;
  if (auto s = containers_->Destroy(&ctx, req, &resp); !s.ok())
    return from_grpc("destroy container " + handle, s);
  return ok_status();
}

Result<int> WorkerClient::run(const std::string& handle, const wv1::ProcessSpec& process,
                              const OutputFn& on_output, const Controls& controls) {
  wv1::ProcessInput in;
  in.mutable_run()->set_handle(handle);
  *in.mutable_run()->mutable_process() = process;
  return follow(in, "run in " + handle, on_output, controls);
}

Result<int> WorkerClient::attach(const std::string& handle, const std::string& process_id,
                                 uint64_t from_offset, const OutputFn& on_output,
                                 const Controls& controls) {
  wv1::ProcessInput in;
  in.mutable_attach()->set_handle(handle);
  in.mutable_attach()->set_process_id(process_id);
  in.mutable_attach()->set_from_offset(from_offset);
  return follow(in, "attach to " + process_id + " in " + handle, on_output, controls);
}

Result<WorkerClient::ProcessStream> WorkerClient::open_process(const wv1::ProcessInput& first,
                                                               const std::string& what) {
  ProcessStream p;
  p.context = std::make_unique<grpc::ClientContext>();
  p.stream = containers_->Process(p.context.get());
  if (!p.stream->Write(first)) return from_grpc(what, p.stream->Finish());
  return p;
}

Result<int> WorkerClient::follow(const wv1::ProcessInput& first, const std::string& what,
                                 const OutputFn& on_output, const Controls& controls) {
  auto opened = open_process(first, what);
  if (!opened) return std::move(opened).error();
  auto& stream = opened->stream;
  // Tasks read no stdin, as Concourse's.
  if (first.has_run()) {
    wv1::ProcessInput close;
    close.set_close_stdin(true);
    stream->Write(close);
  }
  // An abort is SIGTERM, then SIGKILL ten seconds on (Garden's stop); written from a thread
  // of its own while this one reads (one writer, one reader: what a gRPC stream allows). A
  // detach just lets go: the process runs on, for the next engine to attach to.
  std::mutex mu;
  std::condition_variable cv;
  bool ended = false, detached = false;
  std::thread signaller([&] {
    std::unique_lock lock(mu);
    int sent = 0;
    auto killed_at = std::chrono::steady_clock::time_point::max();
    while (!ended) {
      cv.wait_for(lock, std::chrono::milliseconds(500));
      if (ended) break;
      if (controls.detach && controls.detach()) {
        detached = true;
        opened->context->TryCancel();
        break;
      }
      if (sent == 0 && controls.aborted && controls.aborted()) {
        wv1::ProcessInput sig;
        sig.set_signal(SIGTERM);
        stream->Write(sig);
        sent = SIGTERM;
        killed_at = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      } else if (sent == SIGTERM && std::chrono::steady_clock::now() >= killed_at) {
        wv1::ProcessInput sig;
        sig.set_signal(SIGKILL);
        stream->Write(sig);
        sent = SIGKILL;
      }
    }
    if (!detached) stream->WritesDone();
  });
  wv1::ProcessOutput out;
  std::optional<int> status;
  while (stream->Read(&out)) {
    if (out.has_output()) {
      on_output(out.output().stream() == wv1::ProcessOutput::STDERR, out.output().data(),
                out.output().next_offset());
    } else if (out.has_dropped() && controls.on_dropped) {
      controls.on_dropped(out.dropped());
    } else if (out.has_exit()) {
      status = out.exit().signal() ? 128 + out.exit().signal() : out.exit().exit_code();
      break;
    }
  }
  {
    std::lock_guard lock(mu);
    ended = true;
  }
  cv.notify_all();
  signaller.join();
  while (stream->Read(&out)) {
  }
  auto s = stream->Finish();
  if (status) return *status;
  if (detached) return Error(what + ": detached", ECANCELED);
  if (!s.ok()) return from_grpc(what, s);
  return Error(what + ": the worker ended the stream without an exit status", EIO);
}

Result<std::shared_ptr<WorkerClient>> WorkerClients::get(const std::string& address) {
  std::lock_guard lock(mu_);
  if (auto it = clients_.find(address); it != clients_.end()) return it->second;
  auto c = WorkerClient::connect(address, tls_);
  if (!c) return std::move(c).error();
  std::shared_ptr<WorkerClient> shared = std::move(*c);
  clients_[address] = shared;
  return shared;
}

}  // namespace tarmac::atc::engine
