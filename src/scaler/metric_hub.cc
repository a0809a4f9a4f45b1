#include "scaler/metric_hub.h"

#include <algorithm>
#include <atomic>

namespace ballast::scaler {

// A listener slot. `mutex` is held while the listener runs, so Subscription::reset() can
// wait for an in-flight call before the listener's captures are destroyed.
struct MetricHub::Subscription::Slot {
  std::mutex mutex;
  Listener listener;  // empty once unsubscribed
  std::atomic<bool> awaiting_activation{false};
};

MetricHub::Subscription& MetricHub::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    slot_ = std::move(other.slot_);
  }
  return *this;
}

MetricHub::Subscription::~Subscription() { reset(); }

void MetricHub::Subscription::reset() {
  if (!slot_) return;
  {
    std::lock_guard lock(slot_->mutex);
    slot_->listener = nullptr;
  }
  slot_.reset();
}

void MetricHub::Subscription::set_awaiting_activation(bool awaiting) {
  if (slot_) slot_->awaiting_activation.store(awaiting);
}

bool MetricHub::track(const std::string& key, const std::string& name) {
  std::lock_guard lock(mutex_);
  auto [it, inserted] = entries_.try_emplace(key);
  if (it->second.name.empty()) it->second.name = name;
  return inserted;
}

void MetricHub::publish(const std::string& key, double value, double activation_value) {
  std::vector<std::shared_ptr<Subscription::Slot>> slots;
  std::vector<std::function<void()>> first_poll_waiters;
  Sample sample{value, activation_value, clock_.now()};
  {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[key];
    first_poll_waiters.swap(entry.first_poll_waiters);
    entry.last = sample;
    entry.last_error.clear();
    auto& listeners = entry.listeners;
    listeners.erase(std::remove_if(listeners.begin(), listeners.end(), [&slots](const auto& weak) {
                      auto slot = weak.lock();
                      if (!slot) return true;
                      slots.push_back(std::move(slot));
                      return false;
                    }),
                    listeners.end());
  }
  for (const auto& done : first_poll_waiters) done();
  notify(slots, sample);
}

void MetricHub::notify(const std::vector<std::shared_ptr<Subscription::Slot>>& slots, const Sample& sample) {
  for (const auto& slot : slots) {
    std::lock_guard lock(slot->mutex);
    if (slot->listener) slot->listener(sample);
  }
}

void MetricHub::publish_error(const std::string& key, std::string message) {
  std::vector<std::function<void()>> first_poll_waiters;
  {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[key];
    first_poll_waiters.swap(entry.first_poll_waiters);
    entry.last_error = std::move(message);
    ++entry.errors;
  }
  for (const auto& done : first_poll_waiters) done();
}

bool MetricHub::first_poll_pending(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  return it != entries_.end() && first_poll_pending(it->second);
}

bool MetricHub::when_first_polled(const std::string& key, std::function<void()> done) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end() || !first_poll_pending(it->second)) return false;
  it->second.first_poll_waiters.push_back(std::move(done));
  return true;
}

Result<Sample> MetricHub::read(const std::string& key, std::chrono::milliseconds max_staleness) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it != entries_.end()) it->second.last_read = clock_.now();
  if (it == entries_.end()) return unavailable("no data for this source: no value has been observed yet");
  if (!it->second.last) {
    const std::string why = it->second.last_error.empty() ? "no value has been observed yet" : it->second.last_error;
    return unavailable("no data for " + it->second.name + ": " + why);
  }
  const Entry& entry = it->second;
  const auto age = clock_.now() - entry.last->observed_at;
  if (age > max_staleness) {
    const auto age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(age).count();
    std::string message = "data for " + entry.name + " is " + std::to_string(age_ms) + "ms old (maxStaleness " +
                          std::to_string(max_staleness.count()) + "ms)";
    if (!entry.last_error.empty()) message += "; last error: " + entry.last_error;
    return unavailable(std::move(message));
  }
  return *entry.last;
}

bool MetricHub::wanted(const std::string& key, std::chrono::milliseconds idle_after) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const auto& listeners = it->second.listeners;
  const bool subscribed = std::any_of(listeners.begin(), listeners.end(), [](const auto& weak) { return !weak.expired(); });
  return subscribed || clock_.now() - it->second.last_read <= idle_after;
}

bool MetricHub::awaiting_activation(const std::string& key) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  return std::any_of(it->second.listeners.begin(), it->second.listeners.end(), [](const auto& weak) {
    const auto slot = weak.lock();
    return slot && slot->awaiting_activation.load();
  });
}

MetricHub::Subscription MetricHub::subscribe(const std::string& key, Listener listener) {
  auto slot = std::make_shared<Subscription::Slot>();
  slot->listener = std::move(listener);
  std::lock_guard lock(mutex_);
  entries_[key].listeners.push_back(slot);
  return Subscription(std::move(slot));
}

std::vector<MetricHub::EntryStatus> MetricHub::status() const {
  std::lock_guard lock(mutex_);
  std::vector<EntryStatus> out;
  out.reserve(entries_.size());
  const auto now = clock_.now();
  std::map<std::string, int> seen;
  for (const auto& [key, entry] : entries_) {
    const std::string& name = entry.name.empty() ? key : entry.name;
    const int count = ++seen[name];
    EntryStatus status{count == 1 ? name : name + " #" + std::to_string(count), std::nullopt, entry.errors,
                       entry.last_error};
    if (entry.last) status.age_seconds = std::chrono::duration<double>(now - entry.last->observed_at).count();
    out.push_back(std::move(status));
  }
  return out;
}

void register_hub_metrics(MetricsRegistry& metrics, const MetricHub& hub) {
  metrics.add_sampler("ballast_source_data_age_seconds", "Seconds since each source key last produced a value",
                      "gauge", [&hub] {
                        std::vector<std::pair<Labels, double>> samples;
                        for (const auto& entry : hub.status()) {
                          if (entry.age_seconds) samples.push_back({{{"source_key", entry.name}}, *entry.age_seconds});
                        }
                        return samples;
                      });
  metrics.add_sampler("ballast_source_errors_total", "Failed refreshes per source key", "counter", [&hub] {
    std::vector<std::pair<Labels, double>> samples;
    for (const auto& entry : hub.status()) {
      samples.push_back({{{"source_key", entry.name}}, static_cast<double>(entry.errors)});
    }
    return samples;
  });
}

}  // namespace ballast::scaler
