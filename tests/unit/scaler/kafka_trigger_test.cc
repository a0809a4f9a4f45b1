#include "scaler/kafka_trigger.h"

#include <catch2/catch.hpp>

#include "fakes/metadata_edits.h"

#include "scaler/trigger_spec.h"

using namespace ballast;
using namespace ballast::scaler;
using ballast::testing::with;
using ballast::testing::without;
using namespace std::chrono_literals;

namespace {

Metadata kafka_metadata() {
  return {{"source", "kafka"}, {"bootstrapServers", "redpanda-0:9092"}, {"consumerGroup", "stt-workers"},
          {"topic", "speech-requests"}};
}

std::string key_of(const Metadata& metadata) {
  auto spec = parse_trigger(metadata);
  INFO((spec.ok() ? "" : spec.error().message));
  REQUIRE(spec.ok());
  return spec->source_key;
}

}  // namespace

TEST_CASE("a minimal kafka trigger gets KEDA's defaults", "[trigger][kafka]") {
  auto spec = parse_trigger(kafka_metadata());
  REQUIRE(spec.ok());
  CHECK(spec->source == SourceKind::kKafka);
  CHECK(spec->threshold == 10);
  CHECK(spec->activation_threshold == 0);
  CHECK(spec->poll_interval == 1s);
  CHECK(spec->metric_name == "kafka-speech-requests");
  const auto& kafka = std::get<KafkaTrigger>(spec->detail);
  CHECK(kafka.bootstrap_servers == std::vector<std::string>{"redpanda-0:9092"});
  CHECK(kafka.consumer_group == "stt-workers");
  CHECK(kafka.topic == "speech-requests");
  CHECK(kafka.lag_threshold == 10);
  CHECK(kafka.activation_lag_threshold == 0);
  CHECK(kafka.offset_reset_policy == OffsetResetPolicy::kLatest);
  CHECK_FALSE(kafka.allow_idle_consumers);
  CHECK_FALSE(kafka.exclude_persistent_lag);
  CHECK_FALSE(kafka.scale_to_zero_on_invalid_offset);
  CHECK_FALSE(kafka.limit_to_partitions_with_lag);
  CHECK_FALSE(kafka.ensure_even_distribution_of_partitions);
  CHECK(kafka.partition_limitation.empty());
  CHECK_FALSE(kafka.earliest_from_log_start);
  CHECK_FALSE(kafka.ceil_partition_cap);
  CHECK(kafka.caps_lag());
}

TEST_CASE("without a topic the metric is named after the group, as KEDA does", "[trigger][kafka]") {
  auto spec = parse_trigger(without(kafka_metadata(), "topic"));
  REQUIRE(spec.ok());
  CHECK(spec->metric_name == "kafka-stt-workers-topics");
  CHECK(std::get<KafkaTrigger>(spec->detail).topic.empty());
}

TEST_CASE("a topic with dots still gives a safe, distinct metric name", "[trigger][kafka]") {
  auto spec = parse_trigger(with(kafka_metadata(), "topic", "speech.requests"));
  REQUIRE(spec.ok());
  CHECK(spec->metric_name.rfind("kafka-speech-requests-", 0) == 0);
  CHECK(spec->metric_name != "kafka-speech-requests");
}

TEST_CASE("every kafka key is read", "[trigger][kafka]") {
  auto metadata = kafka_metadata();
  metadata["bootstrapServers"] = " redpanda-1:9092,redpanda-0:9092 ,redpanda-1:9092";
  metadata["lagThreshold"] = "50";
  metadata["activationLagThreshold"] = "5";
  metadata["offsetResetPolicy"] = "earliest";
  metadata["excludePersistentLag"] = "true";
  metadata["scaleToZeroOnInvalidOffset"] = "TRUE";
  metadata["ensureEvenDistributionOfPartitions"] = "true";
  metadata["partitionLimitation"] = "10-20, 3,1,2";
  metadata["earliestFromLogStart"] = "true";
  metadata["ceilPartitionCap"] = "true";
  metadata["pollInterval"] = "250ms";
  metadata["metricName"] = "stt-lag";
  metadata["auth"] = "redpanda";
  auto spec = parse_trigger(metadata);
  INFO((spec.ok() ? "" : spec.error().message));
  REQUIRE(spec.ok());
  CHECK(spec->threshold == 50);
  CHECK(spec->activation_threshold == 5);
  CHECK(spec->poll_interval == 250ms);
  CHECK(spec->metric_name == "stt-lag");
  const auto& kafka = std::get<KafkaTrigger>(spec->detail);
  CHECK(kafka.bootstrap_servers == std::vector<std::string>{"redpanda-0:9092", "redpanda-1:9092"});
  CHECK(kafka.lag_threshold == 50);
  CHECK(kafka.activation_lag_threshold == 5);
  CHECK(kafka.offset_reset_policy == OffsetResetPolicy::kEarliest);
  CHECK(kafka.exclude_persistent_lag);
  CHECK(kafka.scale_to_zero_on_invalid_offset);
  CHECK(kafka.ensure_even_distribution_of_partitions);
  CHECK(kafka.earliest_from_log_start);
  CHECK(kafka.ceil_partition_cap);
  const std::vector<PartitionRange> ranges = {{1, 3}, {10, 20}};
  CHECK(kafka.partition_limitation == ranges);
  CHECK(kafka.partition_selected(2));
  CHECK(kafka.partition_selected(20));
  CHECK_FALSE(kafka.partition_selected(4));
  CHECK_FALSE(kafka.partition_selected(21));

  auto idle = parse_trigger(with(with(kafka_metadata(), "allowIdleConsumers", "true"), "limitToPartitionsWithLag", "false"));
  REQUIRE(idle.ok());
  CHECK(std::get<KafkaTrigger>(idle->detail).allow_idle_consumers);
  CHECK_FALSE(std::get<KafkaTrigger>(idle->detail).caps_lag());
  auto limited = parse_trigger(with(kafka_metadata(), "limitToPartitionsWithLag", "true"));
  REQUIRE(limited.ok());
  CHECK(std::get<KafkaTrigger>(limited->detail).limit_to_partitions_with_lag);
}

TEST_CASE("bad kafka metadata is INVALID_ARGUMENT naming the key", "[trigger][kafka]") {
  struct Row {
    Metadata metadata;
    const char* key_in_message;
  };
  const auto base = kafka_metadata();
  const std::vector<Row> rows = {
      {without(base, "bootstrapServers"), "bootstrapServers"},
      {with(base, "bootstrapServers", "redpanda-0"), "bootstrapServers"},
      {with(base, "bootstrapServers", "redpanda-0:0"), "bootstrapServers"},
      {with(base, "bootstrapServers", "redpanda-0:99999"), "bootstrapServers"},
      {with(base, "bootstrapServers", "a:9092,,b:9092"), "bootstrapServers"},
      {without(base, "consumerGroup"), "consumerGroup"},
      {with(base, "lagThreshold", "0"), "lagThreshold"},
      {with(base, "lagThreshold", "-5"), "lagThreshold"},
      {with(base, "lagThreshold", "ten"), "lagThreshold"},
      {with(base, "lagThreshold", "1.5"), "lagThreshold"},
      {with(base, "lagThreshold", "9223372036854775807"), "lagThreshold"},
      {with(base, "lagThreshold", "0x10"), "lagThreshold"},
      {with(base, "activationLagThreshold", "-1"), "activationLagThreshold"},
      {with(base, "activationLagThreshold", "x"), "activationLagThreshold"},
      {with(base, "offsetResetPolicy", "smallest"), "offsetResetPolicy"},
      {with(base, "allowIdleConsumers", "yes"), "allowIdleConsumers"},
      {with(base, "excludePersistentLag", "1"), "excludePersistentLag"},
      {with(base, "scaleToZeroOnInvalidOffset", "on"), "scaleToZeroOnInvalidOffset"},
      {with(base, "limitToPartitionsWithLag", "y"), "limitToPartitionsWithLag"},
      {with(base, "ensureEvenDistributionOfPartitions", "n"), "ensureEvenDistributionOfPartitions"},
      {with(base, "earliestFromLogStart", "maybe"), "earliestFromLogStart"},
      {with(base, "ceilPartitionCap", "up"), "ceilPartitionCap"},
      {with(base, "partitionLimitation", "a"), "partitionLimitation"},
      {with(base, "partitionLimitation", "5-2"), "partitionLimitation"},
      {with(base, "partitionLimitation", "1,,2"), "partitionLimitation"},
      {with(base, "partitionLimitation", "-1"), "partitionLimitation"},
      {with(base, "partitionLimitation", "1-"), "partitionLimitation"},
      {with(without(base, "topic"), "partitionLimitation", "1,2"), "partitionLimitation"},
      {with(without(base, "topic"), "limitToPartitionsWithLag", "true"), "limitToPartitionsWithLag"},
      {with(with(base, "limitToPartitionsWithLag", "true"), "allowIdleConsumers", "true"), "allowIdleConsumers"},
      {with(without(base, "topic"), "ensureEvenDistributionOfPartitions", "true"), "ensureEvenDistributionOfPartitions"},
      {with(with(base, "ensureEvenDistributionOfPartitions", "true"), "limitToPartitionsWithLag", "true"),
       "limitToPartitionsWithLag"},
      {with(base, "wakeOnProduce", "maybe"), "wakeOnProduce"},
      {with(base, "lagTreshold", "5"), "lagThreshold"},
      {with(base, "consumergroup", "x"), "consumerGroup"},
      {with(base, "pollInterval", "fast"), "pollInterval"},
  };
  for (const auto& row : rows) {
    auto spec = parse_trigger(row.metadata);
    INFO(row.key_in_message);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(spec.error().message, Catch::Contains(row.key_in_message));
  }
}

TEST_CASE("triggers that read the same lag share a source key", "[trigger][kafka]") {
  const auto base = key_of(kafka_metadata());
  // Thresholds that do not change the value, and spellings of the same thing.
  CHECK(key_of(with(kafka_metadata(), "activationLagThreshold", "100")) == base);
  CHECK(key_of(with(kafka_metadata(), "maxStaleness", "5s")) == base);
  CHECK(key_of(with(kafka_metadata(), "metricName", "other")) == base);
  CHECK(key_of(with(kafka_metadata(), "lagThreshold", "10")) == base);
  CHECK(key_of(with(kafka_metadata(), "offsetResetPolicy", "latest")) == base);
  CHECK(key_of(with(kafka_metadata(), "bootstrapServers", "b:1,a:1")) ==
        key_of(with(kafka_metadata(), "bootstrapServers", "a:1, b:1")));
  CHECK(key_of(with(kafka_metadata(), "partitionLimitation", "1,2,3")) ==
        key_of(with(kafka_metadata(), "partitionLimitation", "1-3")));
  // Without the cap, lagThreshold is only the HPA target.
  const auto idle = with(kafka_metadata(), "allowIdleConsumers", "true");
  CHECK(key_of(with(idle, "lagThreshold", "5")) == key_of(with(idle, "lagThreshold", "50")));
  // Every invalid offset counts 0 with scaleToZeroOnInvalidOffset, whatever the policy.
  const auto zero = with(kafka_metadata(), "scaleToZeroOnInvalidOffset", "true");
  CHECK(key_of(with(zero, "offsetResetPolicy", "earliest")) == key_of(zero));
  // earliestFromLogStart only matters under earliest.
  CHECK(key_of(with(kafka_metadata(), "earliestFromLogStart", "true")) == base);
  // wakeOnProduce is on by default; saying so changes nothing.
  CHECK(key_of(with(kafka_metadata(), "wakeOnProduce", "true")) == base);
}

TEST_CASE("triggers that read different lag do not share a source key", "[trigger][kafka]") {
  const auto base = key_of(kafka_metadata());
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"bootstrapServers", "redpanda-1:9092"}, {"consumerGroup", "tts-workers"},
      {"topic", "speech-results"},             {"auth", "redpanda"},
      {"lagThreshold", "20"},                  {"offsetResetPolicy", "earliest"},
      {"allowIdleConsumers", "true"},          {"excludePersistentLag", "true"},
      {"scaleToZeroOnInvalidOffset", "true"},  {"limitToPartitionsWithLag", "true"},
      {"ensureEvenDistributionOfPartitions", "true"}, {"partitionLimitation", "0"},
      {"ceilPartitionCap", "true"},           {"wakeOnProduce", "false"},
  };
  for (const auto& [key, value] : changes) {
    INFO(key);
    CHECK(key_of(with(kafka_metadata(), key, value)) != base);
  }
  CHECK(key_of(without(kafka_metadata(), "topic")) != base);
  const auto earliest = with(kafka_metadata(), "offsetResetPolicy", "earliest");
  CHECK(key_of(with(earliest, "earliestFromLogStart", "true")) != key_of(earliest));
}

TEST_CASE("wakeOnProduce is on unless the trigger says false", "[trigger][kafka]") {
  auto on = parse_trigger(kafka_metadata());
  REQUIRE(on.ok());
  CHECK(std::get<KafkaTrigger>(on->detail).wake_on_produce);
  auto off = parse_trigger(with(kafka_metadata(), "wakeOnProduce", "False"));
  REQUIRE(off.ok());
  CHECK_FALSE(std::get<KafkaTrigger>(off->detail).wake_on_produce);
}

TEST_CASE("KEDA kafka keys ballast does not honour are refused, naming the replacement", "[trigger][kafka]") {
  struct Row {
    const char* key;
    const char* value;
    const char* expected;
  };
  const Row rows[] = {
      {"sasl", "scram_sha512", "sasl: KEDA does not forward TriggerAuthentication secrets"},
      {"tls", "enable", "tls: KEDA does not forward"},
      {"username", "svc-user", "username: KEDA does not forward"},
      {"password", "s3cret", "password: KEDA does not forward"},
      {"ca", "-----BEGIN", "auth: <profile>"},
      {"cert", "-----BEGIN", "auth: <profile>"},
      {"key", "-----BEGIN", "auth: <profile>"},
      {"keyPassword", "p4ss-k3y", "auth: <profile>"},
      {"saslTokenProvider", "aws_msk_iam", "auth: <profile>"},
      {"oauthTokenEndpointUri", "https://idp", "auth: <profile>"},
      {"keytab", "BQIAAAB", "auth: <profile>"},
      {"version", "2.8.0", "version has no meaning here"},
      {"fullMetadata", "false", "fullMetadata has no meaning here"},
      {"bootstrapServersFromEnv", "KAFKA_BROKERS", "bootstrapServersFromEnv: ballast does not read *FromEnv keys on "
                                                   "kafka triggers; write bootstrapServers itself"},
      {"consumerGroupFromEnv", "GROUP", "write consumerGroup itself"},
      {"topicFromEnv", "TOPIC", "write topic itself"},
  };
  for (const auto& row : rows) {
    INFO(row.key);
    auto spec = parse_trigger(with(kafka_metadata(), row.key, row.value));
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(spec.error().message, Catch::Contains(row.expected));
    // Never the value: it may be a credential.
    CHECK_THAT(spec.error().message, !Catch::Contains(row.value));
  }
  // The prometheus and sessions sources are not KEDA's kafka scaler: nothing refused there.
  CHECK(refuse_unhonoured_kafka_keys(kafka_metadata()).ok());
}

TEST_CASE("a blank partitionLimitation is no limitation, as in KEDA", "[trigger][kafka]") {
  for (const char* blank : {" ", "  \t ", ""}) {
    INFO("\"" << blank << "\"");
    auto spec = parse_trigger(with(kafka_metadata(), "partitionLimitation", blank));
    REQUIRE(spec.ok());
    CHECK(std::get<KafkaTrigger>(spec->detail).partition_limitation.empty());
    CHECK(spec->source_key == parse_trigger(kafka_metadata())->source_key);
  }
}
