#include "kube/reconcile_loop.h"

namespace ballast::kube {

ReconcileLoop::ReconcileLoop(std::chrono::milliseconds interval, std::chrono::milliseconds debounce,
                             std::function<bool()> pass)
    : interval_(interval), debounce_(debounce), pass_(std::move(pass)) {}

ReconcileLoop::~ReconcileLoop() { stop(); }

void ReconcileLoop::start() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  worker_ = std::thread([this] { run(); });
}

void ReconcileLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void ReconcileLoop::poke() {
  {
    std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  wake_.notify_all();
}

uint64_t ReconcileLoop::passes() const {
  std::lock_guard lock(mutex_);
  return passes_;
}

void ReconcileLoop::run() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, interval_, [this] { return stopping_ || dirty_; });
      if (stopping_) return;
      // Let a burst of watch events land before planning once over all of them.
      wake_.wait_for(lock, debounce_, [this] { return stopping_; });
      if (stopping_) return;
      dirty_ = false;
    }
    if (!pass_()) continue;
    std::lock_guard lock(mutex_);
    ++passes_;
  }
}

}  // namespace ballast::kube
