#pragma once

#include <atomic>
#include <chrono>

#include "core/clock.h"

namespace ballast::testing {

// A clock that moves only when the test says so.
class FakeClock final : public Clock {
 public:
  time_point now() const override { return time_point(std::chrono::nanoseconds(nanos_.load())); }
  void advance(std::chrono::nanoseconds step) { nanos_ += step.count(); }

 private:
  std::atomic<int64_t> nanos_{1'000'000'000'000};
};

}  // namespace ballast::testing
