#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/sync_stream.h>

#include <string>

#include "tarmac/worker/v1/containers.grpc.pb.h"

namespace tarmac::containers {

using ProcessStream = grpc::ServerReaderWriter<worker::v1::ProcessOutput, worker::v1::ProcessInput>;

// Serves one client of the process kept in `dir`: its output from `from_offset` on (read from
// the output log, woken by the shim), then its exit status; meanwhile the client's stdin,
// resizes and signals go to the shim. Returns when the exit status is sent or the client
// goes away; the process keeps running either way.
// `dir` is the process's directory (its shim's), `output_dir` where its output log is.
grpc::Status serve_process(grpc::ServerContext* context, ProcessStream* stream,
                           const std::string& dir, const std::string& output_dir,
                           const std::string& process_id, uint64_t from_offset);

}  // namespace tarmac::containers
