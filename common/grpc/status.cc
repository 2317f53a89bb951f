#include "common/grpc/status.h"

#include <cerrno>
#include <cstdlib>

namespace tarmac {

grpc::Status to_grpc(const Error& error, grpc::StatusCode fallback) {
  grpc::StatusCode code = fallback;
  switch (error.errnum()) {
    case ENOENT:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case EEXIST:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case EBUSY:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case EFBIG:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case EINVAL:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case EAGAIN:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case EACCES:
    case EPERM:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    default:
      break;
  }
  // The errno rides in the details so the client's Error reads exactly as the server's.
  return grpc::Status(code, error.message(),
                      error.errnum() ? std::to_string(error.errnum()) : std::string());
}

Error from_grpc(const std::string& call, const grpc::Status& status) {
  int errnum = status.error_details().empty() ? 0 : std::atoi(status.error_details().c_str());
  if (errnum == 0) {
    switch (status.error_code()) {
      case grpc::StatusCode::NOT_FOUND:
        errnum = ENOENT;
        break;
      case grpc::StatusCode::UNAVAILABLE:
        errnum = ECONNREFUSED;
        break;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        errnum = ETIMEDOUT;
        break;
      default:
        break;
    }
  }
  return Error(call + ": " + status.error_message(), errnum);
}

}  // namespace tarmac
