#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "common/error.h"

namespace tarmac {

// A value or an Error. The project's errors travel as values; exceptions stay inside the
// adapters of libraries that throw.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace tarmac

// Returns the error of `expr` from the enclosing function, wrapped in `context`.
#define TARMAC_RETURN_IF_ERROR(expr, context)                 \
  do {                                                        \
    if (auto tarmac_status_ = (expr); !tarmac_status_.ok())   \
      return std::move(tarmac_status_).error().wrap(context); \
  } while (0)

// Returns the error of `expr` unchanged: for callees whose errors already say everything.
#define TARMAC_TRY(expr)                                    \
  do {                                                      \
    if (auto tarmac_status_ = (expr); !tarmac_status_.ok()) \
      return std::move(tarmac_status_).error();             \
  } while (0)
