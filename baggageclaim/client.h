#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "baggageclaim/tar/tar.h"
#include "baggageclaim/volume.h"
#include "common/grpc/credentials.h"
#include "common/result.h"
#include "tarmac/baggageclaim/v1/baggageclaim.grpc.pb.h"

namespace tarmac::baggageclaim {

namespace pb = ::tarmac::baggageclaim::v1;

// The push side of a stream-in: write chunks of the encoded tar stream, then finish to
// learn whether the server took it.
class StreamInWriter {
 public:
  StreamInWriter(std::unique_ptr<grpc::ClientContext> context, std::unique_ptr<pb::Empty> reply,
                 std::unique_ptr<grpc::ClientWriter<pb::StreamInChunk>> writer);
  // False once the server has stopped reading (finish() says why).
  bool write(std::string_view data);
  Status finish();
  // Cancels the call, so the server drops what it got instead of taking a short stream.
  void abort();

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<pb::Empty> reply_;
  std::unique_ptr<grpc::ClientWriter<pb::StreamInChunk>> writer_;
  bool finished_ = false;
};

// A client of a baggageclaim's volume service. Errors read "<call>: <server's message>" and
// keep the server's errno (ENOENT for an unknown handle, EBUSY, EFBIG, ...).
class Client {
 public:
  static Result<std::unique_ptr<Client>> connect(const std::string& address,
                                                 const TlsFiles& tls = {});
  explicit Client(std::shared_ptr<grpc::Channel> channel);

  Result<Volume> create(const CreateSpec& spec);
  Result<std::vector<Volume>> list(const Properties& filter = {});
  Result<Volume> get(const std::string& handle);
  Status set_property(const std::string& handle, const std::string& name, const std::string& value);
  Status set_privileged(const std::string& handle, bool privileged);
  Status destroy(const std::string& handle);
  // Handles that could not be destroyed, with why.
  Result<std::map<std::string, std::string>> destroy_many(const std::vector<std::string>& handles);

  Result<std::unique_ptr<StreamInWriter>> open_stream_in(const std::string& handle,
                                                         const std::string& path,
                                                         tar::Encoding encoding,
                                                         uint64_t limit = 0);
  // Pulls the encoded stream from `read` until it ends.
  Status stream_in(const std::string& handle, const std::string& path, tar::Encoding encoding,
                   const tar::ReadFn& read, uint64_t limit = 0);
  Status stream_out(const std::string& handle, const std::string& path, tar::Encoding encoding,
                    const tar::WriteFn& write);
  // Has the server behind this client stream straight into another baggageclaim.
  Status stream_p2p_out(const std::string& handle, const std::string& path, tar::Encoding encoding,
                        const std::string& destination_address,
                        const std::string& destination_handle, const std::string& destination_path);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Volumes::Stub> stub_;
};

pb::Encoding to_proto(tar::Encoding encoding);
tar::Encoding from_proto(pb::Encoding encoding);
Volume from_proto(const pb::Volume& volume);
void to_proto(const Volume& volume, pb::Volume* out);

}  // namespace tarmac::baggageclaim
