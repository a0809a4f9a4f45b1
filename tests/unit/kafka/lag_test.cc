#include "sources/kafka/lag.h"

#include <catch2/catch.hpp>

using namespace ballast;
using namespace ballast::kafka;
using scaler::KafkaTrigger;
using scaler::OffsetResetPolicy;

namespace {

PartitionOffsets committed(int32_t partition, int64_t high_watermark, int64_t offset) {
  return {"orders", partition, high_watermark, std::nullopt, offset, std::nullopt};
}
PartitionOffsets uncommitted(int32_t partition, int64_t high_watermark, std::optional<int64_t> log_start = {}) {
  return {"orders", partition, high_watermark, log_start, std::nullopt, std::nullopt};
}
PartitionOffsets stuck(int32_t partition, int64_t high_watermark, int64_t offset) {
  return {"orders", partition, high_watermark, std::nullopt, offset, offset};
}
PartitionOffsets moved(int32_t partition, int64_t high_watermark, int64_t offset, int64_t previous) {
  return {"orders", partition, high_watermark, std::nullopt, offset, previous};
}
PartitionOffsets without_high_watermark(int32_t partition) {
  return {"orders", partition, std::nullopt, std::nullopt, 5, std::nullopt};
}

KafkaTrigger trigger(void (*configure)(KafkaTrigger&) = nullptr) {
  KafkaTrigger out;
  out.bootstrap_servers = {"127.0.0.1:9092"};
  out.consumer_group = "workers";
  out.topic = "orders";
  if (configure) configure(out);
  return out;
}

struct Row {
  const char* rule;
  std::vector<PartitionOffsets> partitions;
  KafkaTrigger trigger;
  int64_t metric;
  int64_t activation;
  int64_t partitions_with_lag;
};

}  // namespace

TEST_CASE("lag follows every KEDA rule and our opt-in keys", "[kafka][lag]") {
  const auto idle = [](KafkaTrigger& t) { t.allow_idle_consumers = true; };
  const std::vector<Row> rows = {
      {"committed partition: high watermark minus committed", {committed(0, 100, 40)}, trigger(idle), 60, 60, 1},
      {"partitions add up", {committed(0, 100, 90), committed(1, 50, 20)}, trigger(idle), 40, 40, 2},
      {"caught-up partition has no lag", {committed(0, 100, 100)}, trigger(idle), 0, 0, 0},
      {"latest, nothing committed: 1 per partition (keda#3149)",
       {uncommitted(0, 500), uncommitted(1, 500), uncommitted(2, 0)}, trigger(idle), 3, 3, 3},
      {"latest with scaleToZeroOnInvalidOffset: 0", {uncommitted(0, 500)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.scale_to_zero_on_invalid_offset = true; }), 0, 0,
       0},
      {"earliest, nothing committed: the whole high watermark (retention ignored, keda#7936)",
       {uncommitted(0, 500, 450)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.offset_reset_policy = OffsetResetPolicy::kEarliest; }),
       500, 500, 1},
      {"earliest with scaleToZeroOnInvalidOffset: 0", {uncommitted(0, 500)},
       trigger([](KafkaTrigger& t) {
         t.allow_idle_consumers = true;
         t.offset_reset_policy = OffsetResetPolicy::kEarliest;
         t.scale_to_zero_on_invalid_offset = true;
       }),
       0, 0, 0},
      {"earliestFromLogStart: high watermark minus log start", {uncommitted(0, 500, 450), committed(1, 80, 70)},
       trigger([](KafkaTrigger& t) {
         t.allow_idle_consumers = true;
         t.offset_reset_policy = OffsetResetPolicy::kEarliest;
         t.earliest_from_log_start = true;
       }),
       60, 60, 2},
      {"earliestFromLogStart does nothing under latest", {uncommitted(0, 500, 450)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.earliest_from_log_start = true; }), 1, 1, 1},
      {"default cap: lag / threshold (integer) above the partition count is capped", {committed(0, 1000, 0), committed(1, 0, 0)},
       trigger(), 20, 1000, 1},
      {"cap uses integer division: 29 / 10 = 2 is not above 2 partitions", {committed(0, 29, 0), committed(1, 0, 0)},
       trigger(), 29, 29, 1},
      {"ceilPartitionCap rounds up: ceil(29 / 10) = 3 > 2 partitions", {committed(0, 29, 0), committed(1, 0, 0)},
       trigger([](KafkaTrigger& t) { t.ceil_partition_cap = true; }), 20, 29, 1},
      {"ceilPartitionCap leaves an exact fit alone", {committed(0, 20, 0), committed(1, 0, 0)},
       trigger([](KafkaTrigger& t) { t.ceil_partition_cap = true; }), 20, 20, 1},
      {"allowIdleConsumers: no cap", {committed(0, 1000, 0), committed(1, 0, 0)}, trigger(idle), 1000, 1000, 1},
      {"cap multiplies by lagThreshold", {committed(0, 1000, 0), committed(1, 0, 0)},
       trigger([](KafkaTrigger& t) { t.lag_threshold = 7; }), 14, 1000, 1},
      {"limitToPartitionsWithLag: cap at partitions with lag",
       {committed(0, 1000, 0), committed(1, 5, 5), committed(2, 5, 5), committed(3, 5, 5)},
       trigger([](KafkaTrigger& t) { t.limit_to_partitions_with_lag = true; }), 10, 1000, 1},
      {"limitToPartitionsWithLag with no lag anywhere: 0", {committed(0, 5, 5), committed(1, 5, 5)},
       trigger([](KafkaTrigger& t) { t.limit_to_partitions_with_lag = true; }), 0, 0, 0},
      {"limitToPartitionsWithLag applies even with allowIdleConsumers set by code",
       {committed(0, 1000, 0), committed(1, 0, 0)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.limit_to_partitions_with_lag = true; }), 10, 1000,
       1},
      {"ensureEvenDistributionOfPartitions: 10 partitions, lag 25 → factor 5 → 50",
       {committed(0, 25, 0), committed(1, 0, 0), committed(2, 0, 0), committed(3, 0, 0), committed(4, 0, 0),
        committed(5, 0, 0), committed(6, 0, 0), committed(7, 0, 0), committed(8, 0, 0), committed(9, 0, 0)},
       trigger([](KafkaTrigger& t) { t.ensure_even_distribution_of_partitions = true; }), 50, 25, 1},
      {"ensureEvenDistributionOfPartitions: 10 partitions, lag 11 → factor 2 → 20",
       {committed(0, 11, 0), committed(1, 0, 0), committed(2, 0, 0), committed(3, 0, 0), committed(4, 0, 0),
        committed(5, 0, 0), committed(6, 0, 0), committed(7, 0, 0), committed(8, 0, 0), committed(9, 0, 0)},
       trigger([](KafkaTrigger& t) { t.ensure_even_distribution_of_partitions = true; }), 20, 11, 1},
      {"ensureEvenDistributionOfPartitions: lag 0 still reports factor 1 (KEDA), activation stays 0",
       {committed(0, 5, 5), committed(1, 5, 5), committed(2, 5, 5), committed(3, 5, 5)},
       trigger([](KafkaTrigger& t) { t.ensure_even_distribution_of_partitions = true; }), 10, 0, 0},
      {"ensureEvenDistributionOfPartitions: lag beyond every factor → partition count → capped there",
       {committed(0, 1000, 0), committed(1, 0, 0), committed(2, 0, 0), committed(3, 0, 0), committed(4, 0, 0),
        committed(5, 0, 0)},
       trigger([](KafkaTrigger& t) { t.ensure_even_distribution_of_partitions = true; }), 60, 1000, 1},
      {"ensureEvenDistributionOfPartitions with allowIdleConsumers still rounds to a factor",
       {committed(0, 15, 0), committed(1, 0, 0), committed(2, 0, 0), committed(3, 0, 0)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.ensure_even_distribution_of_partitions = true; }),
       20, 15, 1},
      {"excludePersistentLag: an unchanged committed offset adds 0 to the metric, not to activation",
       {stuck(0, 100, 50), moved(1, 50, 20, 10)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.exclude_persistent_lag = true; }), 30, 80, 1},
      {"excludePersistentLag: the first sight of an offset counts", {committed(0, 100, 50)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.exclude_persistent_lag = true; }), 50, 50, 1},
      {"excludePersistentLag does not touch uncommitted partitions (KEDA)", {uncommitted(0, 100)},
       trigger([](KafkaTrigger& t) { t.allow_idle_consumers = true; t.exclude_persistent_lag = true; }), 1, 1, 1},
      {"persistent lag is ignored by the metric only when excludePersistentLag is set", {stuck(0, 100, 50)},
       trigger(idle), 50, 50, 1},
      {"excludePersistentLag with the cap: activation is never capped", {stuck(0, 1000, 0), moved(1, 1000, 10, 0)},
       trigger([](KafkaTrigger& t) { t.exclude_persistent_lag = true; }), 20, 1990, 1},
      {"a partition without a high watermark is left out entirely (Event Hubs quirk)",
       {committed(0, 1000, 0), without_high_watermark(1)}, trigger(), 10, 1000, 1},
      {"lag is not clamped per partition: committed past the high watermark subtracts (KEDA)",
       {committed(0, 10, 15), committed(1, 20, 0)}, trigger(idle), 15, 15, 1},
      {"no partitions: nothing to lag", {}, trigger(), 0, 0, 0},
  };
  for (const auto& row : rows) {
    SECTION(row.rule) {
      const LagResult result = compute_lag(row.partitions, row.trigger);
      CHECK(result.metric == row.metric);
      CHECK(result.activation == row.activation);
      CHECK(result.partitions_with_lag == row.partitions_with_lag);
    }
  }
}

TEST_CASE("per-partition lags show metric lag and real lag side by side", "[kafka][lag]") {
  auto t = trigger([](KafkaTrigger& t) { t.exclude_persistent_lag = true; t.allow_idle_consumers = true; });
  const std::vector<PartitionOffsets> partitions = {stuck(0, 100, 50), committed(1, 40, 10), uncommitted(2, 9),
                                                    without_high_watermark(3)};
  const LagResult result = compute_lag(partitions, t);
  REQUIRE(result.per_partition.size() == 3);
  CHECK(result.partitions == 3);
  CHECK(result.per_partition[0].partition == 0);
  CHECK(result.per_partition[0].lag == 0);
  CHECK(result.per_partition[0].real_lag == 50);
  CHECK(result.per_partition[1].lag == 30);
  CHECK(result.per_partition[1].real_lag == 30);
  CHECK(result.per_partition[2].lag == 1);
  CHECK(result.per_partition[2].real_lag == 1);
}
