#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/result.h"

namespace ballast::scaler {

struct Sample {
  double value = 0;             // the metric KEDA scales on
  double activation_value = 0;  // what IsActive compares; differs only where a source says so
  Clock::time_point observed_at;
};

// The shared metric cache: one entry per source key (TriggerSpec::source_key), written by
// sources, read by the gRPC service. Readers never wait on a backend: a read is a map
// lookup under a short lock. Values older than the caller's max staleness are an
// kUnavailable error carrying the source's last error, never a zero.
// Thread-safe; listeners are called on the publishing thread, outside the lock.
class MetricHub {
 public:
  explicit MetricHub(const Clock& clock) : clock_(clock) {}

  // Creates the entry when absent; true the first time, so the caller starts the source once.
  // `name` (TriggerSpec::source_name) is what errors and status() show for the key; the
  // key itself may carry a digest of secret values and is never shown.
  bool track(const std::string& key, const std::string& name);
  bool track(const std::string& key) { return track(key, key); }

  void publish(const std::string& key, double value) { publish(key, value, value); }
  // Kafka's excludePersistentLag hides stuck lag from the metric but not from activation.
  void publish(const std::string& key, double value, double activation_value);
  // Records why a refresh failed; the last good value stays readable until it goes stale.
  void publish_error(const std::string& key, std::string message);

  // Also records the read, so pollers know the key is still wanted.
  Result<Sample> read(const std::string& key, std::chrono::milliseconds max_staleness);

  // True while a stream subscribes to `key` or an RPC read it within `idle_after`;
  // pollers stop refreshing keys nobody asks for.
  bool wanted(const std::string& key, std::chrono::milliseconds idle_after) const;

  // True while `key` is tracked but its source has published neither a value nor an error:
  // its first poll is under way.
  bool first_poll_pending(const std::string& key) const;
  // While the first poll of `key` is pending, keeps `done` and returns true; `done` is then
  // called once, on the publishing thread outside the lock, with the first value or error.
  // Returns false (and drops `done`) when the key is not pending. `done` must hold no
  // strong reference to whatever it answers: the hub keeps it until that first publish.
  bool when_first_polled(const std::string& key, std::function<void()> done);

  // True while some subscriber of `key` says it waits for an activation: a StreamIsActive
  // stream whose last answer to KEDA was "inactive". Sources may then watch for new data
  // harder than their poll interval does (Kafka's wakeOnProduce).
  bool awaiting_activation(const std::string& key) const;

  using Listener = std::function<void(const Sample& sample)>;

  // Calls `listener` with every value published for `key` until the handle is destroyed.
  // Destroying the handle waits for a call in progress, so the listener's captures may die
  // right after.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&&) noexcept = default;
    Subscription& operator=(Subscription&&) noexcept;
    ~Subscription();
    void reset();
    // Marks this subscriber as waiting for the key to turn active (see awaiting_activation).
    void set_awaiting_activation(bool awaiting);

   private:
    friend class MetricHub;
    struct Slot;
    explicit Subscription(std::shared_ptr<Slot> slot) : slot_(std::move(slot)) {}
    std::shared_ptr<Slot> slot_;
  };
  [[nodiscard]] Subscription subscribe(const std::string& key, Listener listener);

  struct EntryStatus {
    // The entry's name, made unique with " #2", " #3"... when keys differing only in
    // secret values share one (so it can label a metric series).
    std::string name;
    std::optional<double> age_seconds;  // empty before the first value
    uint64_t errors = 0;
    std::string last_error;
  };
  std::vector<EntryStatus> status() const;

 private:
  struct Entry {
    std::string name;  // shown in errors and status; the key is not
    std::optional<Sample> last;
    Clock::time_point last_read{};
    std::string last_error;
    uint64_t errors = 0;
    std::vector<std::weak_ptr<Subscription::Slot>> listeners;
    std::vector<std::function<void()>> first_poll_waiters;  // emptied by the first publish
  };
  static bool first_poll_pending(const Entry& entry) { return !entry.last && entry.last_error.empty(); }
  void notify(const std::vector<std::shared_ptr<Subscription::Slot>>& slots, const Sample& sample);

  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

// Registers ballast_source_data_age_seconds and ballast_source_errors_total with one
// series per hub entry, labelled source_key = the entry's name (never its key, which may
// carry a digest of secrets). `hub` must outlive the registry's scrapes.
void register_hub_metrics(MetricsRegistry& metrics, const MetricHub& hub);

}  // namespace ballast::scaler
