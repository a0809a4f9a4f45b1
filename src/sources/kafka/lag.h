#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "scaler/kafka_trigger.h"

namespace ballast::kafka {

// What the brokers said about one partition in one poll.
struct PartitionOffsets {
  std::string topic;
  int32_t partition = 0;
  // Absent when the broker gave no offset for the partition: KEDA then leaves the partition
  // out entirely (neither lag nor partition count), which Event Hubs relies on.
  std::optional<int64_t> high_watermark;
  std::optional<int64_t> log_start;           // read only for earliestFromLogStart
  std::optional<int64_t> committed;           // absent: the group never committed here
  std::optional<int64_t> previous_committed;  // the committed offset one poll earlier
};

struct PartitionLag {
  std::string topic;
  int32_t partition = 0;
  int64_t lag = 0;       // what the metric counts (0 for persistent lag when excluded)
  int64_t real_lag = 0;  // what activation counts
};

struct LagResult {
  int64_t metric = 0;      // the value KEDA scales on, after the partition cap
  int64_t activation = 0;  // real lag, persistent lag included; compared with activationLagThreshold
  int64_t partitions = 0;  // partitions counted (those with a high watermark)
  int64_t partitions_with_lag = 0;
  std::vector<PartitionLag> per_partition;
};

// KEDA's kafka scaler lag rules (keda.md §2.2) plus our opt-in keys, as a pure function.
// `offsets` holds the partitions the trigger selected (partitionLimitation already applied).
LagResult compute_lag(std::span<const PartitionOffsets> offsets, const scaler::KafkaTrigger& trigger);

}  // namespace ballast::kafka
