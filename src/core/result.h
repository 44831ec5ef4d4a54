// Result<T>: a value or an error message, for code that must not throw across
// module boundaries. C++20 has no std::expected; this is the minimal subset.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace slimlm {

// An error says what was wrong and where (file, tensor, byte offset).
struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}     // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }
  const std::string& message() const { return error().message; }

 private:
  std::variant<T, Error> v_;
};

// Status: success or an error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)) {}  // NOLINT: implicit by design
  static Status Ok() { return {}; }

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *err_; }
  const std::string& message() const { return err_->message; }

 private:
  std::optional<Error> err_;
};

}  // namespace slimlm

// Propagates an error from a Result/Status-returning expression.
#define SLIMLM_CONCAT_INNER(a, b) a##b
#define SLIMLM_CONCAT(a, b) SLIMLM_CONCAT_INNER(a, b)
#define SLIMLM_RETURN_IF_ERROR(expr)                    \
  do {                                                  \
    auto _slimlm_st = (expr);                           \
    if (!_slimlm_st.ok()) return _slimlm_st.error();    \
  } while (0)
#define SLIMLM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.error();                 \
  lhs = std::move(tmp).value()
#define SLIMLM_ASSIGN_OR_RETURN(lhs, expr) \
  SLIMLM_ASSIGN_OR_RETURN_IMPL(SLIMLM_CONCAT(_slimlm_r, __LINE__), lhs, expr)
