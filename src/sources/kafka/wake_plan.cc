#include "sources/kafka/wake_plan.h"

#include <algorithm>

namespace ballast::kafka {
namespace {

bool selects(const std::vector<scaler::PartitionRange>& limitation, int32_t partition) {
  if (limitation.empty()) return true;
  return std::any_of(limitation.begin(), limitation.end(),
                     [partition](const auto& range) { return range.first <= partition && partition <= range.last; });
}

}  // namespace

bool should_watch(const WakeCandidate& candidate) {
  return candidate.wake_on_produce && candidate.awaiting_activation && !candidate.topic.empty();
}

WakeSet plan_wake(const std::vector<WakeCandidate>& candidates) {
  WakeSet wake;
  for (const auto& candidate : candidates) {
    if (should_watch(candidate)) wake[candidate.topic].push_back({candidate.key, candidate.partition_limitation});
  }
  for (auto& [topic, keys] : wake) {
    std::sort(keys.begin(), keys.end(), [](const WakeKey& a, const WakeKey& b) { return a.key < b.key; });
  }
  return wake;
}

std::set<TopicPartition> wanted_partitions(const WakeSet& wake,
                                           const std::map<std::string, std::vector<int32_t>>& partitions_by_topic) {
  std::set<TopicPartition> wanted;
  for (const auto& [topic, keys] : wake) {
    const auto known = partitions_by_topic.find(topic);
    if (known == partitions_by_topic.end()) continue;
    for (const int32_t partition : known->second) {
      const bool selected = std::any_of(keys.begin(), keys.end(),
                                        [partition](const WakeKey& key) { return selects(key.partition_limitation, partition); });
      if (selected) wanted.insert({topic, partition});
    }
  }
  return wanted;
}

AssignmentDiff diff_assignment(const std::set<TopicPartition>& current, const std::set<TopicPartition>& wanted) {
  AssignmentDiff diff;
  std::set_difference(wanted.begin(), wanted.end(), current.begin(), current.end(), std::back_inserter(diff.start));
  std::set_difference(current.begin(), current.end(), wanted.begin(), wanted.end(), std::back_inserter(diff.stop));
  return diff;
}

std::optional<int64_t> start_offset(const ReadHighWatermarks& read, const TopicPartition& partition) {
  const auto it = read.find(partition);
  if (it == read.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> keys_woken_by(const WakeSet& wake, const TopicPartition& partition) {
  std::vector<std::string> keys;
  const auto it = wake.find(partition.first);
  if (it == wake.end()) return keys;
  for (const auto& key : it->second) {
    if (selects(key.partition_limitation, partition.second)) keys.push_back(key.key);
  }
  return keys;
}

}  // namespace ballast::kafka
