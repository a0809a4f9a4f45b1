#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "core/clock.h"

namespace ballast::testing {

// A clock that moves only when the test says so. Threads waiting on it (wait_until) wake
// when advance() reaches their deadline; await_waiter() lets the test see a thread parked
// on the clock, so it knows that thread is idle without sleeping.
//
// Lock order: the registry mutex, then a waiter's own mutex. A waiter touches the registry
// only with its own mutex released, so advance() may lock each waiter's mutex to notify it
// without a lost wake-up.
class FakeClock final : public Clock {
 public:
  time_point now() const override { return time_point(std::chrono::nanoseconds(nanos_.load())); }
  // 2026-01-01T00:00:00Z when the clock was made, moving with now().
  TimePoint wall_now() const override {
    return TimePoint(std::chrono::seconds(1'767'225'600)) +
           std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(nanos_.load() - kStart));
  }

  void advance(std::chrono::nanoseconds step) {
    nanos_ += step.count();
    std::lock_guard registry(registry_mutex_);
    for (const Waiter& waiter : waiters_) {
      std::lock_guard lock(*waiter.mutex);
      waiter.wake->notify_all();
    }
  }

  bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& wake, time_point deadline,
                  const std::function<bool()>& done) const override {
    const Waiter self{lock.mutex(), &wake, deadline};
    while (!done() && now() < deadline) {
      lock.unlock();
      update_registry([&] { waiters_.push_back(self); });
      lock.lock();
      // advance() now notifies us under our mutex: a change after this check is not lost.
      if (!done() && now() < deadline) wake.wait(lock);
      lock.unlock();
      update_registry([&] {
        waiters_.erase(std::find_if(waiters_.begin(), waiters_.end(), [&](const Waiter& w) { return w.same(self); }));
      });
      lock.lock();
    }
    return done();
  }

  // Waits (real time, up to `limit`) until a thread is parked on this clock with exactly
  // `deadline`; false if none came.
  bool await_waiter(time_point deadline, std::chrono::milliseconds limit = std::chrono::seconds(10)) const {
    std::unique_lock registry(registry_mutex_);
    return registry_changed_.wait_for(registry, limit, [&] {
      return std::any_of(waiters_.begin(), waiters_.end(), [&](const Waiter& w) { return w.deadline == deadline; });
    });
  }

 private:
  static constexpr int64_t kStart = 1'000'000'000'000;
  struct Waiter {
    std::mutex* mutex;
    std::condition_variable* wake;
    time_point deadline;
    bool same(const Waiter& other) const { return mutex == other.mutex && wake == other.wake && deadline == other.deadline; }
  };

  template <typename Edit>
  void update_registry(Edit edit) const {
    {
      std::lock_guard registry(registry_mutex_);
      edit();
    }
    registry_changed_.notify_all();
  }

  std::atomic<int64_t> nanos_{kStart};
  mutable std::mutex registry_mutex_;  // guards waiters_
  mutable std::condition_variable registry_changed_;
  mutable std::vector<Waiter> waiters_;
};

}  // namespace ballast::testing
