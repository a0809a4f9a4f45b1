#include "sources/kafka/cluster_poller.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "core/thread_name.h"
#include "sources/kafka/client_config.h"
#include "sources/kafka/coordinators.h"
#include "sources/kafka/lag.h"
#include "sources/kafka/produce_watcher.h"

namespace ballast::kafka {
namespace {

using namespace std::chrono_literals;
using TopicPartition = std::pair<std::string, int32_t>;
using Offsets = std::map<TopicPartition, int64_t>;

// A key nobody reads stops being polled after this long (a KEDA poll every 30 s and HPA
// queries every 15 s keep every live trigger well inside it).
std::chrono::milliseconds idle_after(std::chrono::milliseconds poll_interval) {
  return std::max<std::chrono::milliseconds>(10 * poll_interval, 5min);
}

int to_ms(std::chrono::milliseconds duration) { return static_cast<int>(duration.count()); }

// What a group's answer means for the broker it was asked of.
enum class GroupOutcome {
  kAnswered,
  kFailed,          // an answer that another broker would not change (e.g. not authorized)
  kNotCoordinator,  // ask the next broker
  kLoading,         // the coordinator is loading the group: ask it again
  kNoAnswer,        // down or too slow: the next round asks the next broker
};

GroupOutcome outcome_of(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return GroupOutcome::kAnswered;
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
      return GroupOutcome::kNotCoordinator;
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
      return GroupOutcome::kLoading;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      return GroupOutcome::kNoAnswer;
    default:
      return GroupOutcome::kFailed;
  }
}

// librdkafka's own log lines (connection attempts, retries) are per-attempt noise next to
// the one line per state change the poller writes, so they go out at debug level.
void on_librdkafka_log(const rd_kafka_t*, int, const char* facility, const char* message) {
  const Logger logger("kafka");
  if (logger.enabled(LogLevel::kDebug)) logger.debug(message, {{"facility", facility}});
}

struct PartitionList {
  rd_kafka_topic_partition_list_t* list;
  explicit PartitionList(size_t size) : list(rd_kafka_topic_partition_list_new(static_cast<int>(size))) {}
  ~PartitionList() { rd_kafka_topic_partition_list_destroy(list); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
};

struct GroupQuery {
  std::string group;
  std::optional<std::vector<TopicPartition>> partitions;  // empty: every partition the group committed
  int32_t broker = -1;                                     // asked of this broker (see Coordinators)
};

struct GroupAnswer {
  Result<Offsets> offsets = unavailable("no answer");
  GroupOutcome outcome = GroupOutcome::kNoAnswer;
};

// Committed offsets of many groups: every request goes out, each to its query's broker,
// before any answer is awaited. Uncommitted partitions are left out of the map.
std::vector<GroupAnswer> fetch_committed_once(rd_kafka_t* handle, const std::vector<GroupQuery>& queries,
                                              std::chrono::milliseconds timeout) {
  std::vector<GroupAnswer> answers(queries.size());
  for (auto& answer : answers) answer.offsets = unavailable("no answer within " + std::to_string(timeout.count()) + "ms");
  rd_kafka_queue_t* queue = rd_kafka_queue_new(handle);
  char error[256];
  for (size_t i = 0; i < queries.size(); ++i) {
    std::optional<PartitionList> partitions;
    if (queries[i].partitions) {
      partitions.emplace(queries[i].partitions->size());
      for (const auto& [topic, partition] : *queries[i].partitions) {
        rd_kafka_topic_partition_list_add(partitions->list, topic.c_str(), partition);
      }
    }
    rd_kafka_ListConsumerGroupOffsets_t* request =
        rd_kafka_ListConsumerGroupOffsets_new(queries[i].group.c_str(), partitions ? partitions->list : nullptr);
    rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_AdminOptions_set_request_timeout(options, to_ms(timeout), error, sizeof(error));
    // A named broker takes librdkafka's plain broker path, not its coordinator lookup.
    rd_kafka_AdminOptions_set_broker(options, queries[i].broker, error, sizeof(error));
    rd_kafka_AdminOptions_set_opaque(options, reinterpret_cast<void*>(static_cast<uintptr_t>(i)));
    rd_kafka_ListConsumerGroupOffsets(handle, &request, 1, options, queue);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_ListConsumerGroupOffsets_destroy(request);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout + 1s;
  for (size_t answered = 0; answered < queries.size();) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, to_ms(left));
    if (!event) continue;
    if (rd_kafka_event_type(event) != RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) {
      rd_kafka_event_destroy(event);
      continue;
    }
    const auto index = static_cast<size_t>(reinterpret_cast<uintptr_t>(rd_kafka_event_opaque(event)));
    ++answered;
    GroupAnswer& answer = answers.at(index);
    const std::string& group = queries[index].group;
    if (const auto err = rd_kafka_event_error(event)) {
      answer.offsets = unavailable("consumer group " + group + ": " + rd_kafka_event_error_string(event));
      answer.outcome = outcome_of(err);
      rd_kafka_event_destroy(event);
      continue;
    }
    size_t count = 0;
    const rd_kafka_group_result_t** groups =
        rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(event), &count);
    Offsets offsets;
    std::optional<Error> failure;
    for (size_t g = 0; g < count && !failure; ++g) {
      if (const rd_kafka_error_t* group_error = rd_kafka_group_result_error(groups[g])) {
        failure = unavailable("consumer group " + group + ": " + rd_kafka_error_string(group_error));
        answer.outcome = outcome_of(rd_kafka_error_code(group_error));
        break;
      }
      const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(groups[g]);
      for (int p = 0; partitions && p < partitions->cnt; ++p) {
        const auto& element = partitions->elems[p];
        if (element.err) {
          // KEDA fails the poll on any partition error; so do we, after the retry.
          failure = unavailable("consumer group " + group + " " + element.topic + "[" +
                                std::to_string(element.partition) + "]: " + rd_kafka_err2str(element.err));
          answer.outcome = outcome_of(element.err);
          break;
        }
        if (element.offset >= 0) offsets[{element.topic, element.partition}] = element.offset;
      }
    }
    if (failure) {
      answer.offsets = std::move(*failure);
    } else {
      answer.offsets = std::move(offsets);
      answer.outcome = GroupOutcome::kAnswered;
    }
    rd_kafka_event_destroy(event);
  }
  // Answers still in flight land on the queue, which lives until librdkafka lets go of it.
  rd_kafka_queue_destroy(queue);
  return answers;
}

// Asks each group's coordinator as `coordinators` knows it; a group whose broker is not its
// coordinator (a first guess, or a coordinator move, keda#4552) is asked of the next broker
// in the same round, and a loading coordinator once more, so that costs latency, not a
// failed poll.
std::map<std::string, Result<Offsets>> fetch_committed(rd_kafka_t* handle, std::vector<GroupQuery> queries,
                                                       std::chrono::milliseconds timeout,
                                                       Coordinators& coordinators,
                                                       const std::vector<int32_t>& brokers) {
  std::map<std::string, Result<Offsets>> out;
  if (queries.empty()) return out;
  for (auto& query : queries) query.broker = coordinators.broker_for(query.group, brokers);
  std::vector<GroupAnswer> answers(queries.size());
  std::vector<size_t> pending(queries.size());
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
  const size_t attempts = std::max<size_t>(brokers.size(), 2);
  for (size_t attempt = 0; attempt < attempts && !pending.empty(); ++attempt) {
    std::vector<GroupQuery> batch;
    for (size_t index : pending) batch.push_back(queries[index]);
    auto got = fetch_committed_once(handle, batch, timeout);
    std::vector<size_t> again;
    for (size_t k = 0; k < pending.size(); ++k) {
      const size_t index = pending[k];
      auto& query = queries[index];
      answers[index] = std::move(got[k]);
      switch (answers[index].outcome) {
        case GroupOutcome::kAnswered:
          coordinators.answered(query.group, query.broker);
          break;
        case GroupOutcome::kNotCoordinator:
          query.broker = coordinators.move_on(query.group, query.broker, brokers);
          again.push_back(index);
          break;
        case GroupOutcome::kLoading:
          again.push_back(index);
          break;
        case GroupOutcome::kNoAnswer:
          coordinators.move_on(query.group, query.broker, brokers);
          break;
        case GroupOutcome::kFailed:
          break;
      }
    }
    pending = std::move(again);
  }
  for (size_t i = 0; i < queries.size(); ++i) out.emplace(queries[i].group, std::move(answers[i].offsets));
  return out;
}

struct ListedOffsets {
  Offsets offsets;
  std::map<TopicPartition, std::string> errors;
};

// Offsets at a logical position (RD_KAFKA_OFFSET_END: high watermark, RD_KAFKA_OFFSET_BEGINNING:
// log start) for many partitions: librdkafka sends one ListOffsets per partition leader.
Result<ListedOffsets> list_offsets(rd_kafka_t* handle, const std::set<TopicPartition>& partitions, int64_t position,
                                   std::chrono::milliseconds timeout) {
  ListedOffsets out;
  if (partitions.empty()) return out;
  PartitionList list(partitions.size());
  for (const auto& [topic, partition] : partitions) {
    rd_kafka_topic_partition_list_add(list.list, topic.c_str(), partition)->offset = position;
  }
  if (const auto err = rd_kafka_offsets_for_times(handle, list.list, to_ms(timeout))) {
    return unavailable(std::string(position == RD_KAFKA_OFFSET_END ? "high watermarks: " : "log start offsets: ") +
                       rd_kafka_err2str(err));
  }
  for (int i = 0; i < list.list->cnt; ++i) {
    const auto& element = list.list->elems[i];
    TopicPartition id{element.topic, element.partition};
    if (element.err) {
      out.errors[id] = rd_kafka_err2str(element.err);
    } else {
      out.offsets[id] = element.offset;
    }
  }
  return out;
}

}  // namespace

// One poll of some keys: the batched fetches, then the pure lag calculation per key.
class ClusterPoller::Round {
 public:
  Round(rd_kafka_t* handle, std::map<std::string, rd_kafka_topic_s*>& topic_handles, Coordinators& coordinators,
        std::chrono::milliseconds timeout)
      : handle_(handle), topic_handles_(topic_handles), coordinators_(coordinators), timeout_(timeout) {}

  // The high watermarks this round read (none if it failed before reading them).
  const Offsets& high_watermarks() const { return high_watermarks_.offsets; }

  // Metric and activation value of each key, in order.
  std::vector<Result<std::pair<int64_t, int64_t>>> run(std::vector<Watched*>& keys) {
    std::set<std::string> topics;
    for (const Watched* watched : keys) {
      if (!watched->trigger.topic.empty()) topics.insert(watched->trigger.topic);
    }
    std::vector<Result<std::pair<int64_t, int64_t>>> out;
    // Metadata first: it names the brokers group offsets are asked of, and while the
    // cluster is unreachable no group request is left waiting.
    if (auto metadata = describe(topics); !metadata) {
      out.assign(keys.size(), metadata.error());
      return out;
    }
    discover_topics(keys);
    std::set<std::string> discovered_topics;
    for (const auto& [group, discovered] : discovered_) {
      if (!discovered) continue;
      for (const auto& [id, offset] : *discovered) discovered_topics.insert(id.first);
    }
    if (auto metadata = describe(discovered_topics); !metadata) {
      out.assign(keys.size(), metadata.error());
      return out;
    }
    fetch_group_offsets(keys);
    if (auto fetched = fetch_watermarks(keys); !fetched) {
      out.assign(keys.size(), fetched.error());
      return out;
    }
    for (Watched* watched : keys) out.push_back(lag_of(*watched));
    return out;
  }

 private:
  // Topic-less triggers read every topic their group has committed to (KEDA's rule).
  void discover_topics(const std::vector<Watched*>& keys) {
    std::vector<GroupQuery> queries;
    std::set<std::string> groups;
    for (const Watched* watched : keys) {
      if (watched->trigger.topic.empty() && groups.insert(watched->trigger.consumer_group).second) {
        queries.push_back({watched->trigger.consumer_group, std::nullopt, -1});
      }
    }
    discovered_ = fetch_committed(handle_, std::move(queries), timeout_, coordinators_, brokers_);
  }

  // The cluster's broker ids and the partition ids of every topic in one Metadata request
  // (librdkafka asks for the topics it has handles for, so a round that finds nothing new
  // sends one). Skipped when the round has already described these topics.
  Status describe(const std::set<std::string>& topics) {
    const bool known = !brokers_.empty() && std::all_of(topics.begin(), topics.end(), [this](const std::string& topic) {
      return partitions_.count(topic) > 0;
    });
    if (known) return Ok{};
    for (const auto& topic : topics) {
      if (!topic_handles_.count(topic)) topic_handles_[topic] = rd_kafka_topic_new(handle_, topic.c_str(), nullptr);
    }
    const struct rd_kafka_metadata* metadata = nullptr;
    if (const auto err = rd_kafka_metadata(handle_, 0, nullptr, &metadata, to_ms(timeout_))) {
      return unavailable(std::string("metadata: ") + rd_kafka_err2str(err));
    }
    brokers_.clear();
    for (int b = 0; b < metadata->broker_cnt; ++b) brokers_.push_back(metadata->brokers[b].id);
    std::sort(brokers_.begin(), brokers_.end());
    if (brokers_.empty()) {
      rd_kafka_metadata_destroy(metadata);
      return unavailable("metadata: the cluster named no brokers");
    }
    for (int t = 0; t < metadata->topic_cnt; ++t) {
      const auto& topic = metadata->topics[t];
      if (topic.err) {
        partitions_.emplace(topic.topic, unavailable("topic " + std::string(topic.topic) + ": " + rd_kafka_err2str(topic.err)));
        continue;
      }
      std::vector<int32_t> ids;
      for (int p = 0; p < topic.partition_cnt; ++p) ids.push_back(topic.partitions[p].id);
      std::sort(ids.begin(), ids.end());
      partitions_.emplace(topic.topic, std::move(ids));
    }
    rd_kafka_metadata_destroy(metadata);
    for (const auto& topic : topics) {
      partitions_.try_emplace(topic, unavailable("topic " + topic + " is not in the cluster's metadata"));
    }
    return Ok{};
  }

  std::vector<int32_t> selected_partitions(const scaler::KafkaTrigger& trigger) const {
    std::vector<int32_t> selected;
    const auto& all = partitions_.at(trigger.topic);
    if (!all) return selected;
    for (int32_t id : *all) {
      if (trigger.partition_selected(id)) selected.push_back(id);
    }
    return selected;
  }

  // Triggers with a topic ask for exactly its selected partitions, as KEDA does; one
  // request per group covers every topic of that group.
  void fetch_group_offsets(const std::vector<Watched*>& keys) {
    std::map<std::string, std::set<TopicPartition>> wanted;
    for (const Watched* watched : keys) {
      const auto& trigger = watched->trigger;
      if (trigger.topic.empty()) continue;
      auto& partitions = wanted[trigger.consumer_group];
      for (int32_t id : selected_partitions(trigger)) partitions.insert({trigger.topic, id});
    }
    std::vector<GroupQuery> queries;
    for (auto& [group, partitions] : wanted) {
      if (partitions.empty()) continue;  // nothing to ask; the key reports why
      queries.push_back({group, std::vector<TopicPartition>(partitions.begin(), partitions.end()), -1});
    }
    committed_ = fetch_committed(handle_, std::move(queries), timeout_, coordinators_, brokers_);
  }

  // The partitions a key reads: its topic's selected partitions, or every partition of the
  // topics its group committed to.
  std::vector<TopicPartition> partitions_of(const Watched& watched) const {
    std::vector<TopicPartition> out;
    const auto& trigger = watched.trigger;
    if (!trigger.topic.empty()) {
      for (int32_t id : selected_partitions(trigger)) out.emplace_back(trigger.topic, id);
      return out;
    }
    const auto& discovered = discovered_.at(trigger.consumer_group);
    if (!discovered) return out;
    std::set<std::string> topics;
    for (const auto& [id, offset] : *discovered) topics.insert(id.first);
    for (const auto& topic : topics) {
      const auto& ids = partitions_.at(topic);
      if (!ids) continue;
      for (int32_t id : *ids) out.emplace_back(topic, id);
    }
    return out;
  }

  const Result<Offsets>* committed_for(const Watched& watched) const {
    const auto& group = watched.trigger.consumer_group;
    const auto& source = watched.trigger.topic.empty() ? discovered_ : committed_;
    const auto it = source.find(group);
    return it == source.end() ? nullptr : &it->second;
  }

  Status fetch_watermarks(const std::vector<Watched*>& keys) {
    std::set<TopicPartition> all;
    std::set<TopicPartition> need_log_start;
    for (const Watched* watched : keys) {
      const auto& trigger = watched->trigger;
      const bool from_log_start = trigger.offset_reset_policy == scaler::OffsetResetPolicy::kEarliest &&
                                  trigger.earliest_from_log_start && !trigger.scale_to_zero_on_invalid_offset;
      const Result<Offsets>* committed = committed_for(*watched);
      for (const auto& id : partitions_of(*watched)) {
        all.insert(id);
        // Only uncommitted partitions need the log start, so most polls skip the request.
        if (from_log_start && committed && *committed && !(*committed)->count(id)) need_log_start.insert(id);
      }
    }
    auto high = list_offsets(handle_, all, RD_KAFKA_OFFSET_END, timeout_);
    if (!high) return high.error();
    high_watermarks_ = std::move(*high);
    auto start = list_offsets(handle_, need_log_start, RD_KAFKA_OFFSET_BEGINNING, timeout_);
    if (!start) return start.error();
    log_starts_ = std::move(*start);
    return Ok{};
  }

  Result<std::pair<int64_t, int64_t>> lag_of(Watched& watched) const {
    const auto& trigger = watched.trigger;
    if (!trigger.topic.empty()) {
      if (const auto& ids = partitions_.at(trigger.topic); !ids) return ids.error();
    }
    const Result<Offsets>* committed = committed_for(watched);
    const auto partitions = partitions_of(watched);
    if (!trigger.topic.empty() && partitions.empty()) {
      return unavailable("topic " + trigger.topic + " has no partitions selected by partitionLimitation");
    }
    if (!partitions.empty() && !committed) return unavailable("consumer group " + trigger.consumer_group + ": not fetched");
    if (committed && !*committed) return committed->error();
    // From here a topic-less group that committed nothing has no partitions and a true lag of 0.
    std::vector<PartitionOffsets> offsets;
    offsets.reserve(partitions.size());
    for (const auto& id : partitions) {
      if (const auto error = high_watermarks_.errors.find(id); error != high_watermarks_.errors.end()) {
        return unavailable("high watermark of " + id.first + "[" + std::to_string(id.second) + "]: " + error->second);
      }
      if (const auto error = log_starts_.errors.find(id); error != log_starts_.errors.end()) {
        return unavailable("log start of " + id.first + "[" + std::to_string(id.second) + "]: " + error->second);
      }
      PartitionOffsets partition{id.first, id.second, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
      if (const auto it = high_watermarks_.offsets.find(id); it != high_watermarks_.offsets.end()) {
        partition.high_watermark = it->second;
      }
      if (const auto it = log_starts_.offsets.find(id); it != log_starts_.offsets.end()) partition.log_start = it->second;
      if (committed) {
        if (const auto it = (*committed)->find(id); it != (*committed)->end()) partition.committed = it->second;
      }
      if (const auto it = watched.previous_committed.find(id); it != watched.previous_committed.end()) {
        partition.previous_committed = it->second;
      }
      offsets.push_back(std::move(partition));
    }
    const LagResult lag = compute_lag(offsets, trigger);
    if (trigger.exclude_persistent_lag) {
      watched.previous_committed.clear();
      for (const auto& partition : offsets) {
        if (partition.committed) watched.previous_committed[{partition.topic, partition.partition}] = *partition.committed;
      }
    }
    return std::pair{lag.metric, lag.activation};
  }

  rd_kafka_t* handle_;
  std::map<std::string, rd_kafka_topic_s*>& topic_handles_;
  Coordinators& coordinators_;
  std::chrono::milliseconds timeout_;
  std::vector<int32_t> brokers_;  // sorted; empty until the round's first metadata
  std::map<std::string, Result<Offsets>> discovered_;  // topic-less groups: everything committed
  std::map<std::string, Result<Offsets>> committed_;   // groups of triggers with a topic
  std::map<std::string, Result<std::vector<int32_t>>> partitions_;
  ListedOffsets high_watermarks_;
  ListedOffsets log_starts_;
};

ClusterPoller::ClusterPoller(std::string cluster_name, std::vector<std::string> bootstrap_servers,
                             std::string auth_name, std::optional<AuthProfile> auth_profile,
                             Dependencies dependencies)
    : cluster_name_(std::move(cluster_name)),
      bootstrap_servers_(std::move(bootstrap_servers)),
      auth_name_(std::move(auth_name)),
      auth_profile_(std::move(auth_profile)),
      deps_(dependencies),
      poll_duration_(deps_.metrics.histogram("ballast_kafka_poll_duration_seconds",
                                             "Duration of one poll round of a Kafka cluster (all due triggers)",
                                             {{"cluster", cluster_name_}}, latency_buckets_seconds())),
      poll_errors_(deps_.metrics.counter("ballast_kafka_poll_errors_total",
                                         "Kafka trigger polls that failed (the last good value is kept)",
                                         {{"cluster", cluster_name_}})),
      thread_([this] {
        name_this_thread("kafka-poll");
        run();
      }) {}

ClusterPoller::~ClusterPoller() {
  stop();
  for (auto& [topic, handle] : topic_handles_) rd_kafka_topic_destroy(handle);
  if (handle_) rd_kafka_destroy(handle_);
}

void ClusterPoller::add(const scaler::TriggerSpec& spec) {
  Watched watched;
  watched.key = spec.source_key;
  watched.trigger = std::get<scaler::KafkaTrigger>(spec.detail);
  watched.poll_interval = spec.poll_interval;
  watched.watched_at = deps_.clock.now();
  watched.next_poll = watched.watched_at;
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(watched));
  }
  wake_.notify_one();
}

void ClusterPoller::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  // After the join: the watcher calls wake(), which needs this poller alive.
  watcher_.reset();
}

void ClusterPoller::run() {
  std::unique_lock lock(mutex_);
  const auto wake_allowed = [this] { return !woken_.empty() && deps_.clock.now() >= next_wake_round_; };
  while (!stopping_) {
    for (auto& watched : pending_) keys_.push_back(std::move(watched));
    pending_.clear();
    std::set<std::string> woken;
    if (wake_allowed()) woken.swap(woken_);
    lock.unlock();
    const auto now = deps_.clock.now();
    if (!woken.empty()) {
      next_wake_round_ = now + kWakeGap;
      for (auto& watched : keys_) {
        if (woken.count(watched.key)) watched.next_poll = now;
      }
    }
    const auto next = poll_once(now);
    update_wake();
    lock.lock();
    // Bounded so an injected clock that does not move cannot park the thread for good.
    auto wait = std::clamp<std::chrono::nanoseconds>(next - deps_.clock.now(), 0ns, 1s);
    if (!woken_.empty()) wait = std::clamp<std::chrono::nanoseconds>(next_wake_round_ - deps_.clock.now(), 0ns, wait);
    wake_.wait_for(lock, wait, [&] { return stopping_ || !pending_.empty() || wake_allowed(); });
  }
}

void ClusterPoller::update_wake() {
  std::vector<WakeCandidate> candidates;
  candidates.reserve(keys_.size());
  for (const auto& watched : keys_) {
    const auto& trigger = watched.trigger;
    WakeCandidate candidate{watched.key, trigger.topic, trigger.partition_limitation, trigger.wake_on_produce, false};
    // Only asked of the hub when the rest would watch: it takes the hub's lock.
    candidate.awaiting_activation = should_watch({"", trigger.topic, {}, trigger.wake_on_produce, true}) &&
                                    deps_.hub.awaiting_activation(watched.key);
    candidates.push_back(std::move(candidate));
  }
  WakeSet wanted = plan_wake(candidates);
  if (wanted == wake_set_) return;
  if (!watcher_) {
    if (wanted.empty()) return;
    if (!auth_name_.empty() && !auth_profile_) return;  // the poll reports it per key
    auto settings = client_settings(bootstrap_servers_, auth_name_, auth_profile_ ? &*auth_profile_ : nullptr);
    if (!settings) return;
    watcher_ = std::make_unique<ProduceWatcher>(
        cluster_name_, std::move(*settings), [this](const std::vector<std::string>& keys) { wake(keys); },
        ProduceWatcher::Metrics{
            deps_.metrics.gauge("ballast_kafka_watchers",
                                "wakeOnProduce watchers with partitions assigned (one per Kafka cluster at most)"),
            deps_.metrics.gauge("ballast_kafka_watched_partitions",
                                "Partitions wakeOnProduce watchers are assigned to"),
            deps_.metrics.counter("ballast_kafka_wakes_total",
                                  "Times a produced message made wakeOnProduce poll some triggers at once")});
  }
  wake_set_ = wanted;
  watcher_->set_wanted(std::move(wanted), read_high_watermarks_);
}

void ClusterPoller::wake(const std::vector<std::string>& keys) {
  {
    std::lock_guard lock(mutex_);
    woken_.insert(keys.begin(), keys.end());
  }
  wake_.notify_one();
}

Status ClusterPoller::ensure_handle() {
  if (handle_) return Ok{};
  if (!auth_name_.empty() && !auth_profile_) {
    return invalid_argument("auth profile \"" + auth_name_ + "\" is not in ballast's config");
  }
  auto settings = client_settings(bootstrap_servers_, auth_name_, auth_profile_ ? &*auth_profile_ : nullptr);
  if (!settings) return settings.error();
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : *settings) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      // librdkafka quotes the value it refused; a password must not reach the error.
      const bool secret = name.find("password") != std::string::npos || name.find("secret") != std::string::npos;
      return invalid_argument("kafka client setting " + name + ": " + (secret ? "invalid value" : error));
    }
  }
  rd_kafka_conf_set_log_cb(conf, on_librdkafka_log);
  handle_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  if (!handle_) {
    rd_kafka_conf_destroy(conf);
    return invalid_argument(std::string("kafka client: ") + error);
  }
  handle_ready_ = true;
  return Ok{};
}

Clock::time_point ClusterPoller::poll_once(Clock::time_point now) {
  std::vector<Watched*> due;
  std::chrono::milliseconds shortest_interval = 1min;
  for (auto& watched : keys_) {
    // Keys due within half an interval join this round: of any rounds in one interval two
    // are at most half an interval apart, so keys added at different moments converge
    // into one batched round (at worst a key is polled half an interval early).
    if (watched.next_poll > now + watched.poll_interval / 2) continue;
    watched.next_poll = now + watched.poll_interval;
    const auto idle = idle_after(watched.poll_interval);
    if (!deps_.hub.wanted(watched.key, idle) && now - watched.watched_at > idle) continue;
    due.push_back(&watched);
    shortest_interval = std::min(shortest_interval, watched.poll_interval);
  }
  if (!due.empty()) {
    const auto started = std::chrono::steady_clock::now();
    if (auto ready = ensure_handle(); !ready) {
      for (Watched* watched : due) report(*watched, ready.error());
    } else {
      // Long enough for a healthy cluster, short enough that a dead one is noticed quickly.
      const auto timeout = std::clamp<std::chrono::milliseconds>(2 * shortest_interval, 1s, 10s);
      // Serves what librdkafka queues for the application (errors of the never-joined
      // consumer group, for one) so it cannot pile up between rounds.
      rd_kafka_poll(handle_, 0);
      Round round(handle_, topic_handles_, coordinators_, timeout);
      auto outcomes = round.run(due);
      for (size_t i = 0; i < due.size(); ++i) report(*due[i], outcomes[i]);
      for (const auto& [partition, offset] : round.high_watermarks()) read_high_watermarks_[partition] = offset;
    }
    poll_duration_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  auto next = now + 1min;
  for (const auto& watched : keys_) next = std::min(next, watched.next_poll);
  return next;
}

void ClusterPoller::report(Watched& watched, const Result<std::pair<int64_t, int64_t>>& outcome) {
  if (outcome) {
    deps_.hub.publish(watched.key, static_cast<double>(outcome->first), static_cast<double>(outcome->second));
    if (!watched.failure.empty()) {
      logger_.info("kafka source recovered", {{"source", watched.key}, {"cluster", cluster_name_}});
      watched.failure.clear();
    }
    return;
  }
  const std::string& message = outcome.error().message;
  deps_.hub.publish_error(watched.key, message);
  poll_errors_.increment();
  if (watched.failure.empty()) {
    logger_.warn("kafka source failing; keeping its last value until maxStaleness",
                 {{"source", watched.key}, {"cluster", cluster_name_}, {"error", message}});
  }
  watched.failure = message;
}

}  // namespace ballast::kafka
