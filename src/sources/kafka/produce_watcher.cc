#include "sources/kafka/produce_watcher.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

#include "core/thread_name.h"

namespace ballast::kafka {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kMetadataTimeout{5'000};
constexpr std::chrono::milliseconds kMetadataRetry{5'000};
constexpr std::chrono::milliseconds kHandleRetry{5'000};
// How long one consume call blocks: also how soon a new WakeSet is applied.
constexpr int kConsumeWaitMs = 100;
// Messages handled per turn of the loop, so a busy topic cannot starve set_wanted().
constexpr int kMaxMessagesPerTurn = 1'000;

void on_librdkafka_log(const rd_kafka_t*, int, const char* facility, const char* message) {
  const Logger logger("kafka");
  if (logger.enabled(LogLevel::kDebug)) logger.debug(message, {{"facility", facility}, {"client", "wake"}});
}

}  // namespace

ClientSettings ProduceWatcher::watcher_settings(const ClientSettings& cluster) {
  ClientSettings settings;
  for (const auto& [name, value] : cluster) {
    // No group at all: the watcher must never touch the workload's group (or any other).
    if (name == "group.id" || name == "client.id") continue;
    settings.emplace_back(name, value);
  }
  const ClientSettings fetch = {
      {"client.id", "ballast-wake"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "latest"},
      // The broker holds each Fetch until a byte lands or this long passes: one request per
      // broker per second while idle, an answer as soon as a message is appended.
      {"fetch.wait.max.ms", std::to_string(kFetchWaitMax.count())},
      {"fetch.min.bytes", "1"},
      // A few bytes are enough to learn that something landed; payloads are dropped unread.
      // librdkafka wants fetch.max.bytes >= message.max.bytes (a producer setting here).
      {"message.max.bytes", "1000"},
      {"fetch.max.bytes", "1024"},
      {"max.partition.fetch.bytes", "1024"},
      {"queued.min.messages", "1"},
      {"queued.max.messages.kbytes", "64"},
      {"fetch.error.backoff.ms", "200"},
  };
  settings.insert(settings.end(), fetch.begin(), fetch.end());
  return settings;
}

ProduceWatcher::ProduceWatcher(std::string cluster_name, ClientSettings settings, OnProduce on_produce,
                               Metrics metrics)
    : cluster_name_(std::move(cluster_name)),
      settings_(watcher_settings(settings)),
      on_produce_(std::move(on_produce)),
      metrics_(metrics),
      thread_([this] {
        name_this_thread("kafka-produce");
        run();
      }) {}

ProduceWatcher::~ProduceWatcher() { stop(); }

void ProduceWatcher::set_wanted(WakeSet wake, ReadHighWatermarks read) {
  {
    std::lock_guard lock(mutex_);
    next_wake_ = std::move(wake);
    next_read_ = std::move(read);
    changed_ = true;
  }
  changed_cv_.notify_one();
}

void ProduceWatcher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void ProduceWatcher::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (changed_) {
      wake_ = std::move(next_wake_);
      next_wake_.clear();
      read_ = std::move(next_read_);
      next_read_.clear();
      changed_ = false;
      // A topic never described yet is described now; known ones wait for the next round.
      for (const auto& [topic, keys] : wake_) {
        if (!partitions_by_topic_.count(topic)) next_metadata_ = {};
      }
    }
    lock.unlock();
    const auto now = SteadyClock::now();
    bool consumed = false;
    if (!wake_.empty()) {
      idle_since_ = now;
      if (ensure_handle()) {
        refresh_assignment(now >= next_metadata_);
        consume_some();
        consumed = true;
      }
    } else if (handle_) {
      if (!assigned_.empty()) refresh_assignment(false);
      if (now - idle_since_ >= kIdleClose) close_handle();
    }
    lock.lock();
    if (!consumed) changed_cv_.wait_for(lock, 1s, [this] { return stopping_ || changed_; });
  }
  lock.unlock();
  close_handle();
}

bool ProduceWatcher::ensure_handle() {
  if (handle_) return true;
  const auto now = SteadyClock::now();
  if (now < next_handle_attempt_) return false;
  next_handle_attempt_ = now + kHandleRetry;
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : settings_) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      // The poller reports bad settings per key; here one line is enough, without values.
      logger_.warn("kafka produce watcher: bad client setting", {{"cluster", cluster_name_}, {"setting", name}});
      return false;
    }
  }
  rd_kafka_conf_set_log_cb(conf, on_librdkafka_log);
  handle_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (!handle_) {
    rd_kafka_conf_destroy(conf);
    logger_.warn("kafka produce watcher: no client", {{"cluster", cluster_name_}, {"error", error}});
    return false;
  }
  queue_ = rd_kafka_queue_new(handle_);
  next_metadata_ = {};
  logger_.info("kafka produce watcher started", {{"cluster", cluster_name_}});
  return true;
}

void ProduceWatcher::close_handle() {
  if (!handle_) return;
  for (const auto& [topic, partition] : assigned_) rd_kafka_consume_stop(topic_handle(topic), partition);
  set_assigned({});
  for (auto& [topic, handle] : topics_) rd_kafka_topic_destroy(handle);
  topics_.clear();
  partitions_by_topic_.clear();
  rd_kafka_queue_destroy(queue_);
  queue_ = nullptr;
  rd_kafka_destroy(handle_);
  handle_ = nullptr;
  logger_.info("kafka produce watcher closed (nothing to watch)", {{"cluster", cluster_name_}});
}

rd_kafka_topic_s* ProduceWatcher::topic_handle(const std::string& topic) {
  auto& handle = topics_[topic];
  if (!handle) handle = rd_kafka_topic_new(handle_, topic.c_str(), nullptr);
  return handle;
}

void ProduceWatcher::refresh_assignment(bool metadata_due) {
  if (metadata_due && !wake_.empty()) {
    // librdkafka describes the topics it has handles for, in one request.
    for (const auto& [topic, keys] : wake_) topic_handle(topic);
    const struct rd_kafka_metadata* metadata = nullptr;
    const auto err =
        rd_kafka_metadata(handle_, 0, nullptr, &metadata, static_cast<int>(kMetadataTimeout.count()));
    if (err) {
      next_metadata_ = SteadyClock::now() + kMetadataRetry;
      const std::string message = std::string("metadata: ") + rd_kafka_err2str(err);
      if (failure_ != message) {
        logger_.warn("kafka produce watcher cannot read metadata; watching what it knew",
                     {{"cluster", cluster_name_}, {"error", message}});
        failure_ = message;
      }
    } else {
      if (!failure_.empty()) logger_.info("kafka produce watcher recovered", {{"cluster", cluster_name_}});
      failure_.clear();
      next_metadata_ = SteadyClock::now() + kMetadataInterval;
      for (int t = 0; t < metadata->topic_cnt; ++t) {
        const auto& topic = metadata->topics[t];
        if (!wake_.count(topic.topic)) continue;
        if (topic.err) {
          partitions_by_topic_.erase(topic.topic);
          continue;
        }
        std::vector<int32_t> ids;
        for (int p = 0; p < topic.partition_cnt; ++p) ids.push_back(topic.partitions[p].id);
        partitions_by_topic_[topic.topic] = std::move(ids);
      }
      rd_kafka_metadata_destroy(metadata);
    }
  }
  const auto diff = diff_assignment(assigned_, wanted_partitions(wake_, partitions_by_topic_));
  if (diff.empty()) return;
  auto assigned = assigned_;
  for (const auto& [topic, partition] : diff.stop) {
    rd_kafka_consume_stop(topic_handle(topic), partition);
    assigned.erase({topic, partition});
  }
  for (const auto& [topic, partition] : diff.start) {
    // An offset out of range (retention deleted it, the topic was recreated) falls back
    // to the log end through auto.offset.reset=latest.
    const int64_t offset = start_offset(read_, {topic, partition}).value_or(RD_KAFKA_OFFSET_END);
    if (rd_kafka_consume_start_queue(topic_handle(topic), partition, offset, queue_) == -1) {
      logger_.warn("kafka produce watcher cannot assign a partition",
                   {{"cluster", cluster_name_}, {"topic", topic}, {"partition", std::to_string(partition)},
                    {"error", rd_kafka_err2str(rd_kafka_last_error())}});
      continue;
    }
    assigned.insert({topic, partition});
  }
  set_assigned(std::move(assigned));
  if (logger_.enabled(LogLevel::kDebug)) {
    logger_.debug("kafka produce watcher assignment", {{"cluster", cluster_name_},
                                                       {"started", std::to_string(diff.start.size())},
                                                       {"stopped", std::to_string(diff.stop.size())},
                                                       {"assigned", std::to_string(assigned_.size())}});
  }
}

void ProduceWatcher::consume_some() {
  std::set<std::string> woken;
  rd_kafka_message_t* message = rd_kafka_consume_queue(queue_, kConsumeWaitMs);
  for (int count = 0; message; ++count) {
    if (!message->err) {
      // Only where it landed matters; the payload is never read or kept.
      for (auto& key : keys_woken_by(wake_, {rd_kafka_topic_name(message->rkt), message->partition})) {
        woken.insert(std::move(key));
      }
    } else if (logger_.enabled(LogLevel::kDebug)) {
      logger_.debug("kafka produce watcher fetch error",
                    {{"cluster", cluster_name_}, {"error", rd_kafka_err2str(message->err)}});
    }
    rd_kafka_message_destroy(message);
    if (count + 1 >= kMaxMessagesPerTurn) break;
    message = rd_kafka_consume_queue(queue_, 0);
  }
  // Serves what librdkafka queues for the application (errors, logs) so nothing piles up.
  rd_kafka_poll(handle_, 0);
  if (woken.empty()) return;
  metrics_.wakes.increment();
  on_produce_(std::vector<std::string>(woken.begin(), woken.end()));
}

void ProduceWatcher::set_assigned(std::set<TopicPartition> assigned) {
  const bool was_watching = !assigned_.empty();
  metrics_.partitions.add(static_cast<double>(assigned.size()) - static_cast<double>(assigned_.size()));
  assigned_ = std::move(assigned);
  if (was_watching != !assigned_.empty()) metrics_.watchers.add(was_watching ? -1 : 1);
}

}  // namespace ballast::kafka
