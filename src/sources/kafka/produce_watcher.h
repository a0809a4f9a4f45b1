#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "sources/kafka/client_config.h"
#include "sources/kafka/wake_plan.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;
struct rd_kafka_queue_s;

namespace ballast::kafka {

// wakeOnProduce for one cluster: a librdkafka consumer ASSIGNED (partition consumer,
// rd_kafka_consume_start_queue; never subscribed, no group.id configured, nothing
// committed or stored) to the partitions of the keys in the current WakeSet, starting at
// the high watermark the poller last read (start_offset(); the log end if never read). Fetches wait long on the broker (kFetchWaitMax) for tiny sizes, so a
// produced message is answered at once; each message is dropped unread and the keys it
// may wake go to `on_produce` (the poller then polls them now). librdkafka keeps at most
// one Fetch in flight per broker for this handle.
// Owned by ClusterPoller, which calls set_wanted() from its thread; every librdkafka call
// runs on this watcher's own thread. The handle is made when there is something to watch
// and closed after kIdleClose with nothing to watch. Metadata is re-read every
// kMetadataInterval (new partitions join at their log end) and whenever the set changes.
class ProduceWatcher {
 public:
  using OnProduce = std::function<void(const std::vector<std::string>& keys)>;
  struct Metrics {
    Gauge& watchers;    // ballast_kafka_watchers: watchers with at least one partition assigned
    Gauge& partitions;  // ballast_kafka_watched_partitions
    Counter& wakes;     // ballast_kafka_wakes_total
  };
  static constexpr std::chrono::milliseconds kFetchWaitMax{1'000};
  static constexpr std::chrono::seconds kMetadataInterval{30};
  static constexpr std::chrono::seconds kIdleClose{60};

  ProduceWatcher(std::string cluster_name, ClientSettings settings, OnProduce on_produce, Metrics metrics);
  ~ProduceWatcher();
  ProduceWatcher(const ProduceWatcher&) = delete;
  ProduceWatcher& operator=(const ProduceWatcher&) = delete;

  // Replaces what to watch; `read` is the poller's last read high watermarks, where
  // partitions assigned from now on start. Returns at once.
  void set_wanted(WakeSet wake, ReadHighWatermarks read);
  void stop();

  // librdkafka settings of the watcher's handle: the cluster's connection and auth
  // settings without any group, plus the fetch settings above. Pure; tested.
  static ClientSettings watcher_settings(const ClientSettings& cluster);

 private:
  void run();
  bool ensure_handle();
  void close_handle();
  void refresh_assignment(bool metadata_due);
  void consume_some();
  rd_kafka_topic_s* topic_handle(const std::string& topic);
  void set_assigned(std::set<TopicPartition> assigned);

  const std::string cluster_name_;
  const ClientSettings settings_;
  const OnProduce on_produce_;
  Metrics metrics_;
  Logger logger_{"kafka"};

  std::mutex mutex_;  // guards next_wake_, next_read_, changed_, stopping_
  std::condition_variable changed_cv_;
  WakeSet next_wake_;
  ReadHighWatermarks next_read_;
  bool changed_ = false;
  bool stopping_ = false;

  // Watcher thread only.
  WakeSet wake_;
  ReadHighWatermarks read_;
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_queue_s* queue_ = nullptr;
  std::map<std::string, rd_kafka_topic_s*> topics_;
  std::map<std::string, std::vector<int32_t>> partitions_by_topic_;
  std::set<TopicPartition> assigned_;
  std::chrono::steady_clock::time_point next_metadata_{};
  std::chrono::steady_clock::time_point idle_since_{};
  std::chrono::steady_clock::time_point next_handle_attempt_{};
  std::string failure_;  // last logged failure; empty while healthy

  std::thread thread_;  // last: starts after every member above exists
};

}  // namespace ballast::kafka
