#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "scaler/kafka_trigger.h"

namespace ballast::kafka {

// The pure half of wakeOnProduce: which keys a cluster's produce watcher covers, which
// partitions that makes, how an assignment moves, and whom a produced message wakes.
// Plain values in, plain values out; ProduceWatcher and ClusterPoller execute it.

using TopicPartition = std::pair<std::string, int32_t>;

// One source key of a cluster, as the wake planner sees it.
struct WakeCandidate {
  std::string key;
  std::string topic;                                   // empty: topic-less trigger
  std::vector<scaler::PartitionRange> partition_limitation;  // empty: every partition
  bool wake_on_produce = true;
  // A StreamIsActive stream for the key last told KEDA "inactive" (MetricHub).
  bool awaiting_activation = false;
};

// Watched only while someone waits for it to turn active, the user did not opt out, and
// there is a topic to watch (a topic-less trigger's topics come from its group's commits,
// which a produce cannot change; it stays on its poll interval).
bool should_watch(const WakeCandidate& candidate);

// A key waiting on one topic, with the partitions it reads.
struct WakeKey {
  std::string key;
  std::vector<scaler::PartitionRange> partition_limitation;
  bool operator==(const WakeKey&) const = default;
};
// topic → the keys waiting on it, sorted by key. One watcher per cluster serves the
// whole set, so every trigger on a topic shares one assignment and one fetch per broker.
using WakeSet = std::map<std::string, std::vector<WakeKey>>;

WakeSet plan_wake(const std::vector<WakeCandidate>& candidates);

// The partitions to assign: for each topic, the metadata's partitions any waiting key
// selects. Topics missing from `partitions_by_topic` (unknown yet, or gone) add none.
std::set<TopicPartition> wanted_partitions(const WakeSet& wake,
                                           const std::map<std::string, std::vector<int32_t>>& partitions_by_topic);

struct AssignmentDiff {
  std::vector<TopicPartition> start;  // not assigned yet: start where start_offset() says
  std::vector<TopicPartition> stop;   // assigned, no longer wanted
  bool empty() const { return start.empty() && stop.empty(); }
};
AssignmentDiff diff_assignment(const std::set<TopicPartition>& current, const std::set<TopicPartition>& wanted);

// The high watermark the poller last read for each partition.
using ReadHighWatermarks = std::map<TopicPartition, int64_t>;
// Where a newly assigned partition starts: at the high watermark the poller last read, so a
// message produced after the poll that found the topic idle, but before the assignment took
// effect, is fetched at once instead of waiting for the next poll. nullopt (the log end)
// for a partition the poller never read.
std::optional<int64_t> start_offset(const ReadHighWatermarks& read, const TopicPartition& partition);

// The keys whose lag a message on `partition` may have changed.
std::vector<std::string> keys_woken_by(const WakeSet& wake, const TopicPartition& partition);

}  // namespace ballast::kafka
