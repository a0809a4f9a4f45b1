#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

enum class OffsetResetPolicy { kLatest, kEarliest };

// An inclusive range of partition ids, as written in `partitionLimitation` ("10-20" or "3").
struct PartitionRange {
  int32_t first = 0;
  int32_t last = 0;
  bool operator==(const PartitionRange&) const = default;
};

// `source: kafka`: consumer-group lag with KEDA's kafka scaler semantics (keda.md §2).
// Pure value, parsed once from the trigger metadata.
struct KafkaTrigger {
  std::vector<std::string> bootstrap_servers;  // host:port, sorted, without duplicates
  std::string consumer_group;
  std::string topic;  // empty: every topic the group has committed offsets for
  int64_t lag_threshold = 10;
  int64_t activation_lag_threshold = 0;
  OffsetResetPolicy offset_reset_policy = OffsetResetPolicy::kLatest;
  bool allow_idle_consumers = false;
  bool exclude_persistent_lag = false;
  bool scale_to_zero_on_invalid_offset = false;
  bool limit_to_partitions_with_lag = false;
  bool ensure_even_distribution_of_partitions = false;
  // Sorted, non-overlapping; empty means every partition of `topic`.
  std::vector<PartitionRange> partition_limitation;
  // Ours, not KEDA's (keda#7936): with `earliest`, an uncommitted partition counts
  // high watermark − log start offset, so messages removed by retention are not lag.
  bool earliest_from_log_start = false;
  // Ours, not KEDA's: cap when ceil(lag / lagThreshold) exceeds the partition bound, so a
  // lag just above partitions × threshold cannot ask the HPA for one idle replica more.
  bool ceil_partition_cap = false;
  // `wakeOnProduce`: while a StreamIsActive stream for the trigger says "inactive", watch
  // the topic for new messages and poll at once when one lands (sources/kafka/README.md).
  bool wake_on_produce = true;

  // KEDA caps the metric at the partition count unless told otherwise; the cap is the
  // only place lagThreshold changes the published value.
  bool caps_lag() const {
    return !allow_idle_consumers || limit_to_partitions_with_lag || ensure_even_distribution_of_partitions;
  }
  bool partition_selected(int32_t partition) const;
};

std::span<const std::string_view> kafka_trigger_keys();
// KEDA kafka scaler keys that ballast does not honour (credentials and TLS, which come from
// an `auth` profile; `version`, `fullMetadata`; `*FromEnv`): an error naming the first one
// and what to write instead, so a trigger copied from KEDA never silently loses a setting.
// parse_kafka_trigger() calls it; the webhook calls it too, before its `*FromEnv` leniency.
Status refuse_unhonoured_kafka_keys(const Metadata& metadata);
// Fills threshold, activation, poll interval, source key, default metric name and detail.
Status parse_kafka_trigger(const Metadata& metadata, TriggerSpec& spec);

}  // namespace ballast::scaler
