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

void ReconcileLoop::requeue_at(Clock::time_point due) {
  {
    std::lock_guard lock(mutex_);
    if (due_ && *due_ <= due) return;
    due_ = due;
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
      const auto idle_until = clock_.now() + interval_;
      // A requeue_at() during the wait moves the deadline earlier: wake, and wait again.
      const auto asked = due_;
      const auto deadline = asked && *asked < idle_until ? *asked : idle_until;
      clock_.wait_until(lock, wake_, deadline, [&] { return stopping_ || dirty_ || due_ != asked; });
      if (stopping_) return;
      if (!dirty_ && due_ != asked) continue;
      if (dirty_) {
        // Let a burst of watch events land before planning once over all of them.
        clock_.wait_until(lock, wake_, clock_.now() + debounce_, [this] { return stopping_; });
        if (stopping_) return;
      }
      dirty_ = false;
      due_.reset();
    }
    if (!pass_()) continue;
    std::lock_guard lock(mutex_);
    ++passes_;
  }
}

}  // namespace ballast::kube
