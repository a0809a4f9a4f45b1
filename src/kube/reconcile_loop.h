#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "core/clock.h"

namespace ballast::kube {

// A reconciler's worker thread. It runs `pass` `debounce` after the first poke, so a
// burst of watch events is planned once, at the time a pass asked for with requeue_at()
// (controller-runtime's RequeueAfter: a timer, a backoff that ends), and at least every
// `interval` without either (the first pass runs once started). `pass` returns true when
// it completed (false: caches not synced yet, or not the leader). poke() and requeue_at()
// may come from any thread. Every wait is on `clock`, so tests move time with a fake clock.
class ReconcileLoop {
 public:
  ReconcileLoop(const Clock& clock, std::chrono::milliseconds interval, std::chrono::milliseconds debounce,
                std::function<bool()> pass);
  ~ReconcileLoop();
  ReconcileLoop(const ReconcileLoop&) = delete;
  ReconcileLoop& operator=(const ReconcileLoop&) = delete;

  void start(std::string_view thread_name = "rec");  // the worker's name (core/thread_name.h)
  void stop();  // waits for a pass in progress; idempotent
  void poke();
  // Runs a pass at `due` unless one runs before (the earliest asked for wins). A pass
  // starting clears it: a pass that still has a deadline ahead asks again.
  void requeue_at(Clock::time_point due);
  uint64_t passes() const;  // completed passes

 private:
  void run();

  const Clock& clock_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds debounce_;
  const std::function<bool()> pass_;
  mutable std::mutex mutex_;  // guards the five below
  std::condition_variable wake_;
  bool dirty_ = true;
  std::optional<Clock::time_point> due_;
  bool stopping_ = false;
  uint64_t passes_ = 0;
  std::thread worker_;
};

}  // namespace ballast::kube
