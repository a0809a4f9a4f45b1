#pragma once

#include <chrono>

namespace ballast {

// Time source injected into everything that ages data, so tests drive a fake clock.
// Implementations must be safe to call from any thread.
class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace ballast
