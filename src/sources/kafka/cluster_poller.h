#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "scaler/kafka_trigger.h"
#include "scaler/metric_hub.h"
#include "scaler/trigger_spec.h"
#include "sources/kafka/coordinators.h"
#include "sources/kafka/wake_plan.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;

namespace ballast::kafka {

class ProduceWatcher;

// Everything ballast reads from one Kafka/Redpanda cluster (bootstrap servers + auth
// profile): one librdkafka handle shared by every trigger on that cluster, and one thread
// that polls them. A round fetches metadata for all topics once, committed offsets for all
// groups concurrently and high watermarks for all partitions in one batched ListOffsets per
// leader, then publishes each trigger's lag. Group offsets are asked of the broker
// Coordinators names, never through librdkafka's coordinator lookup (see coordinators.h).
// A broken cluster stalls only its own thread.
// wakeOnProduce: keys a StreamIsActive stream waits on (MetricHub::awaiting_activation)
// are handed to this cluster's one ProduceWatcher; a message it sees makes those keys due
// at once (at most one woken round per kWakeGap).
// Owned by KafkaSource; the thread starts in the constructor and is joined by stop(),
// which then stops the watcher.
class ClusterPoller {
 public:
  struct Dependencies {
    scaler::MetricHub& hub;
    MetricsRegistry& metrics;
    const Clock& clock;
  };
  ClusterPoller(std::string cluster_name, std::vector<std::string> bootstrap_servers, std::string auth_name,
                std::optional<AuthProfile> auth_profile, Dependencies dependencies);
  ~ClusterPoller();
  ClusterPoller(const ClusterPoller&) = delete;
  ClusterPoller& operator=(const ClusterPoller&) = delete;

  // Starts polling a source key; returns at once (called from gRPC threads).
  void add(const scaler::TriggerSpec& spec);
  void stop();
  bool has_handle() const { return handle_ready_.load(); }

  // Woken rounds are at least this far apart, so a busy topic whose keys stay inactive
  // (a high activationLagThreshold) cannot turn polling into a busy loop.
  static constexpr std::chrono::milliseconds kWakeGap{50};

 private:
  // One watched source key. Owned by the poller thread once taken from `pending_`.
  struct Watched {
    std::string key;
    scaler::KafkaTrigger trigger;
    std::chrono::milliseconds poll_interval{1'000};
    Clock::time_point watched_at{};
    Clock::time_point next_poll{};
    // Committed offsets seen at the previous successful poll (excludePersistentLag).
    // Kept here, not in the trigger, so it survives KEDA rebuilding its scalers.
    std::map<std::pair<std::string, int32_t>, int64_t> previous_committed;
    std::string failure;  // the error last published; empty while healthy
  };
  class Round;

  void run();
  Status ensure_handle();
  // Polls the keys that are due (and those due soon, so keys converge into shared rounds);
  // returns when the next key is due.
  Clock::time_point poll_once(Clock::time_point now);
  void report(Watched& watched, const Result<std::pair<int64_t, int64_t>>& outcome);
  // Hands the keys waiting for activation to the produce watcher (made on first need).
  void update_wake();
  // From the watcher's thread: these keys may have new lag; poll them now.
  void wake(const std::vector<std::string>& keys);

  const std::string cluster_name_;
  const std::vector<std::string> bootstrap_servers_;
  const std::string auth_name_;
  const std::optional<AuthProfile> auth_profile_;
  Dependencies deps_;
  Logger logger_{"kafka"};
  Histogram& poll_duration_;
  Counter& poll_errors_;

  std::mutex mutex_;  // guards pending_, woken_ and stopping_
  std::condition_variable wake_;
  std::vector<Watched> pending_;
  std::set<std::string> woken_;
  bool stopping_ = false;

  // Poller thread only.
  rd_kafka_s* handle_ = nullptr;
  std::map<std::string, rd_kafka_topic_s*> topic_handles_;
  Coordinators coordinators_;
  std::vector<Watched> keys_;
  std::string handle_failure_;
  Clock::time_point next_wake_round_{};
  WakeSet wake_set_;
  ReadHighWatermarks read_high_watermarks_;  // where the watcher starts newly assigned partitions
  std::unique_ptr<ProduceWatcher> watcher_;  // also reset by stop() once the thread is joined

  std::atomic<bool> handle_ready_{false};
  std::thread thread_;  // last: starts after every member above exists
};

}  // namespace ballast::kafka
