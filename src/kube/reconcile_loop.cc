#include "kube/reconcile_loop.h"

#include "core/thread_name.h"

namespace ballast::kube {

ReconcileLoop::ReconcileLoop(const Clock& clock, std::chrono::milliseconds interval,
                             std::chrono::milliseconds debounce, std::function<bool()> pass)
    : clock_(clock), interval_(interval), debounce_(debounce), pass_(std::move(pass)) {}

ReconcileLoop::~ReconcileLoop() { stop(); }

void ReconcileLoop::start(std::string_view thread_name) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  worker_ = std::thread([this, name = std::string(thread_name)] { name_this_thread(name); run(); });
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
      clock_.wait_until(lock, wake_, clock_.now() + interval_, [this] { return stopping_ || dirty_; });
      if (stopping_) return;
      // Let a burst of watch events land before planning once over all of them.
      clock_.wait_until(lock, wake_, clock_.now() + debounce_, [this] { return stopping_; });
      if (stopping_) return;
      dirty_ = false;
    }
    if (!pass_()) continue;
    std::lock_guard lock(mutex_);
    ++passes_;
  }
}

}  // namespace ballast::kube
