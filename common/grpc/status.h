#pragma once

#include <grpcpp/support/status.h>

#include <string>

#include "common/error.h"

namespace tarmac {

// An Error as a gRPC status: errno picks the code (ENOENT → NOT_FOUND, EEXIST →
// ALREADY_EXISTS, EBUSY → FAILED_PRECONDITION, EFBIG → RESOURCE_EXHAUSTED, EINVAL →
// INVALID_ARGUMENT, EAGAIN → UNAVAILABLE, EACCES/EPERM → PERMISSION_DENIED, else `fallback`).
grpc::Status to_grpc(const Error& error, grpc::StatusCode fallback = grpc::StatusCode::INTERNAL);

// A failed call as an Error "<call>: <message>" with the errno its code stands for.
Error from_grpc(const std::string& call, const grpc::Status& status);

}  // namespace tarmac
