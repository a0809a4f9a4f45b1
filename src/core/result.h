#pragma once

#include <string>
#include <utility>
#include <variant>

namespace ballast {

// Error categories shared by every component; edges map them to gRPC status codes,
// HTTP statuses or AdmissionResponses.
enum class ErrorCode {
  kInvalidArgument,  // bad input from a caller (metadata, frames, config)
  kUnavailable,      // no fresh data, backend down, not ready yet
  kNotFound,
  kAlreadyExists,    // create of a name that exists (HTTP 409 AlreadyExists)
  kConflict,         // stale resourceVersion on update (HTTP 409 Conflict)
  kExpired,          // resourceVersion too old to list or watch from (HTTP 410 Gone)
  kTooManyRequests,  // throttled, or an eviction a PodDisruptionBudget forbids (HTTP 429)
  kIo,               // files, sockets
  kInternal,
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

// A value or an Error. Errors are values on request paths: no exceptions cross them.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}    // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result of an operation that yields nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

inline Error invalid_argument(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}
inline Error unavailable(std::string message) { return {ErrorCode::kUnavailable, std::move(message)}; }
inline Error io_error(std::string message) { return {ErrorCode::kIo, std::move(message)}; }

}  // namespace ballast
