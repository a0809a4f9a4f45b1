#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "core/timestamp.h"

namespace ballast {

// Time source injected into everything that ages data or waits, so tests drive a fake
// clock instead of sleeping. Implementations must be safe to call from any thread.
class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  // Monotonic time, for intervals and deadlines.
  virtual time_point now() const = 0;
  // Wall time, for what is compared with or written into API objects (timestamps).
  virtual TimePoint wall_now() const = 0;
  // Blocks on `wake` (`lock` holds its mutex) until `done()` or until this clock reaches
  // `deadline`; returns done(). Whoever changes what `done` reads holds that mutex and
  // notifies `wake`, exactly as for std::condition_variable::wait_until.
  virtual bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& wake, time_point deadline,
                          const std::function<bool()>& done) const = 0;
};

// The process's real clocks: std::chrono::steady_clock and system_clock.
class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  TimePoint wall_now() const override { return std::chrono::system_clock::now(); }
  bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& wake, time_point deadline,
                  const std::function<bool()>& done) const override {
    return wake.wait_until(lock, deadline, done);
  }
};

}  // namespace ballast
