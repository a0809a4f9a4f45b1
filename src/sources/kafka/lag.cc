#include "sources/kafka/lag.h"

namespace ballast::kafka {
namespace {

struct Lags {
  int64_t lag;
  int64_t real_lag;
};

Lags partition_lag(const PartitionOffsets& offsets, const scaler::KafkaTrigger& trigger) {
  const int64_t high_watermark = *offsets.high_watermark;
  if (!offsets.committed) {
    // KEDA's -1 offset: one replica so a consumer can start and commit (latest), or the
    // whole log (earliest); persistent-lag exclusion does not apply here (KEDA's rule).
    if (trigger.scale_to_zero_on_invalid_offset) return {0, 0};
    if (trigger.offset_reset_policy == scaler::OffsetResetPolicy::kLatest) return {1, 1};
    const int64_t log_start = trigger.earliest_from_log_start ? offsets.log_start.value_or(0) : 0;
    return {high_watermark - log_start, high_watermark - log_start};
  }
  const int64_t lag = high_watermark - *offsets.committed;
  // A consumer stuck on the same offset as last poll adds nothing to the metric (more
  // replicas would not help it) but still keeps the workload active.
  if (trigger.exclude_persistent_lag && offsets.previous_committed == offsets.committed) return {0, lag};
  return {lag, lag};
}

// The smallest divisor f of `partitions` with f × threshold ≥ lag, so every consumer gets
// the same number of partitions; `partitions` itself when none is big enough.
int64_t even_distribution_factor(int64_t lag, int64_t partitions, int64_t threshold) {
  for (int64_t factor = 1; factor <= partitions; ++factor) {
    if (partitions % factor == 0 && factor * threshold >= lag) return factor;
  }
  return partitions;
}

}  // namespace

LagResult compute_lag(std::span<const PartitionOffsets> offsets, const scaler::KafkaTrigger& trigger) {
  LagResult result;
  for (const auto& partition : offsets) {
    if (!partition.high_watermark) continue;
    const Lags lags = partition_lag(partition, trigger);
    result.metric += lags.lag;
    result.activation += lags.real_lag;
    ++result.partitions;
    if (lags.lag > 0) ++result.partitions_with_lag;
    result.per_partition.push_back({partition.topic, partition.partition, lags.lag, lags.real_lag});
  }
  if (!trigger.caps_lag()) return result;

  const int64_t threshold = trigger.lag_threshold;
  if (trigger.ensure_even_distribution_of_partitions) {
    result.metric = even_distribution_factor(result.metric, result.partitions, threshold) * threshold;
  }
  const int64_t upper_bound = trigger.limit_to_partitions_with_lag ? result.partitions_with_lag : result.partitions;
  // KEDA divides with truncation, so a lag in (P·T, (P+1)·T) passes uncapped;
  // ceilPartitionCap rounds up as the HPA does.
  const int64_t replicas = trigger.ceil_partition_cap && result.metric > 0
                               ? (result.metric + threshold - 1) / threshold
                               : result.metric / threshold;
  if (replicas > upper_bound) result.metric = upper_bound * threshold;
  return result;
}

}  // namespace ballast::kafka
