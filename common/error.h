#pragma once

#include <string>
#include <string_view>

namespace tarmac {

// An error as a value: a message that reads from the outermost context inwards
// ("start container web: mount /proc: permission denied (errno 1)") and the errno that
// caused it, if any.
class Error {
 public:
  explicit Error(std::string message, int errnum = 0);

  const std::string& message() const { return message_; }
  int errnum() const { return errnum_; }

  // The message followed by the errno's text, for showing to a person.
  std::string what() const;

  // The same error seen from an outer layer: "context: message".
  Error wrap(std::string_view context) const&;
  Error wrap(std::string_view context) &&;

 private:
  std::string message_;
  int errnum_;
};

// An error from the current errno: "context: strerror (errno N)".
Error sys_error(std::string context);
Error sys_error(std::string context, int errnum);

}  // namespace tarmac
