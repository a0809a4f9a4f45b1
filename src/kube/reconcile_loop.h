#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>

#include "core/clock.h"

namespace ballast::kube {

// A reconciler's worker thread. It runs `pass` `debounce` after the first poke, so a
// burst of watch events is planned once, and at least every `interval` without any
// (the first pass runs once started). `pass` returns true when it completed (false: caches
// not synced yet, or not the leader). poke() may come from any thread. Both waits are on
// `clock`, so tests move time with a fake clock.
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
  uint64_t passes() const;  // completed passes

 private:
  void run();

  const Clock& clock_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds debounce_;
  const std::function<bool()> pass_;
  mutable std::mutex mutex_;  // guards the four below
  std::condition_variable wake_;
  bool dirty_ = true;
  bool stopping_ = false;
  uint64_t passes_ = 0;
  std::thread worker_;
};

}  // namespace ballast::kube
