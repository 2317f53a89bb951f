#include "common/error.h"

#include <cerrno>
#include <cstring>

namespace tarmac {

Error::Error(std::string message, int errnum) : message_(std::move(message)), errnum_(errnum) {}

std::string Error::what() const {
  if (errnum_ == 0) return message_;
  return message_ + ": " + std::strerror(errnum_) + " (errno " + std::to_string(errnum_) + ")";
}

Error Error::wrap(std::string_view context) const& {
  return Error(std::string(context) + ": " + message_, errnum_);
}

Error Error::wrap(std::string_view context) && {
  message_.insert(0, std::string(context) + ": ");
  return std::move(*this);
}

Error sys_error(std::string context) { return sys_error(std::move(context), errno); }

Error sys_error(std::string context, int errnum) { return Error(std::move(context), errnum); }

}  // namespace tarmac
