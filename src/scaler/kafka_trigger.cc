#include "scaler/kafka_trigger.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "scaler/metadata_fields.h"
#include "scaler/trigger_spec.h"

namespace ballast::scaler {
namespace {

constexpr std::array<std::string_view, 15> kKeys = {
    "bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold", "offsetResetPolicy",
    "allowIdleConsumers", "excludePersistentLag", "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions", "partitionLimitation", "earliestFromLogStart", "ceilPartitionCap",
    "wakeOnProduce"};

constexpr std::chrono::milliseconds kDefaultPollInterval{1'000};

// KEDA's kafka keys that carry credentials or TLS settings (trigger metadata or
// TriggerAuthentication parameters copied into metadata).
constexpr std::array<std::string_view, 17> kCredentialKeys = {
    "sasl", "tls", "username", "password", "ca", "cert", "key", "keyPassword", "saslTokenProvider", "scopes",
    "oauthTokenEndpointUri", "oauthExtensions", "keytab", "realm", "kerberosConfig", "kerberosServiceName",
    "kerberosDisableFAST"};

std::string trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(separator, start), text.size());
    items.push_back(trim(std::string_view(text).substr(start, end - start)));
    start = end + 1;
  }
  return items;
}

template <typename Int>
bool parse_whole(std::string_view text, Int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// host:port or [v6]:port; the port is what librdkafka cannot default for us.
bool is_server_address(const std::string& server) {
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  uint32_t port = 0;
  if (!parse_whole(std::string_view(server).substr(colon + 1), port) || port == 0 || port > 65535) return false;
  return std::none_of(server.begin(), server.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

Result<std::vector<std::string>> parse_servers(const Metadata& metadata) {
  auto text = required(metadata, "bootstrapServers", "kafka");
  if (!text) return text.error();
  std::vector<std::string> servers;
  for (auto& server : split(*text, ',')) {
    if (!is_server_address(server)) {
      return invalid_argument("bootstrapServers must be a comma list of host:port, got \"" + *text + "\"");
    }
    servers.push_back(std::move(server));
  }
  std::sort(servers.begin(), servers.end());
  servers.erase(std::unique(servers.begin(), servers.end()), servers.end());
  return servers;
}

Result<std::vector<PartitionRange>> parse_partition_limitation(const Metadata& metadata) {
  const auto text = value_or(metadata, "partitionLimitation");
  std::vector<PartitionRange> ranges;
  // Blank (spaces only) means no limitation, as in KEDA (kafka_scaler.go checks TrimSpace).
  if (trim(text).empty()) return ranges;
  const auto bad = [&text](const std::string& why) {
    return invalid_argument("partitionLimitation must be partition ids and ranges like \"1,2,10-20\" (" + why +
                            "), got \"" + text + "\"");
  };
  for (const auto& item : split(text, ',')) {
    if (item.empty()) return bad("empty item");
    PartitionRange range;
    const size_t dash = item.find('-', 1);
    if (dash == std::string::npos) {
      if (!parse_whole(item, range.first) || range.first < 0) return bad("\"" + item + "\" is not a partition id");
      range.last = range.first;
    } else {
      const auto first = trim(std::string_view(item).substr(0, dash));
      const auto last = trim(std::string_view(item).substr(dash + 1));
      if (!parse_whole(first, range.first) || !parse_whole(last, range.last) || range.first < 0) {
        return bad("\"" + item + "\" is not a range of partition ids");
      }
      if (range.first > range.last) return bad("range \"" + item + "\" ends before it starts");
    }
    ranges.push_back(range);
  }
  // Sorted and merged, so equal selections written differently share one source key.
  std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<PartitionRange> merged;
  for (const auto& range : ranges) {
    if (!merged.empty() && static_cast<int64_t>(range.first) <= static_cast<int64_t>(merged.back().last) + 1) {
      merged.back().last = std::max(merged.back().last, range.last);
    } else {
      merged.push_back(range);
    }
  }
  return merged;
}

// Checks between keys, in KEDA's wording where KEDA has one.
Status check_combinations(const KafkaTrigger& kafka) {
  if (kafka.limit_to_partitions_with_lag && kafka.allow_idle_consumers) {
    return invalid_argument("limitToPartitionsWithLag and allowIdleConsumers cannot both be true");
  }
  if (kafka.limit_to_partitions_with_lag && kafka.topic.empty()) {
    return invalid_argument("limitToPartitionsWithLag needs topic");
  }
  if (kafka.ensure_even_distribution_of_partitions && kafka.topic.empty()) {
    return invalid_argument("ensureEvenDistributionOfPartitions needs topic");
  }
  if (kafka.ensure_even_distribution_of_partitions && kafka.limit_to_partitions_with_lag) {
    return invalid_argument("ensureEvenDistributionOfPartitions and limitToPartitionsWithLag cannot both be true");
  }
  // KEDA ignores it without a topic; a selection that selects nothing is better refused.
  if (!kafka.partition_limitation.empty() && kafka.topic.empty()) {
    return invalid_argument("partitionLimitation needs topic");
  }
  return Ok{};
}

// Every option that changes the published value, in a fixed order; thresholds are left
// out except lagThreshold where the partition cap multiplies by it.
std::string source_key(const KafkaTrigger& kafka, const std::string& auth) {
  std::string key = "kafka|servers=";
  for (size_t i = 0; i < kafka.bootstrap_servers.size(); ++i) {
    key += (i ? "," : "") + kafka.bootstrap_servers[i];
  }
  key += "|auth=" + auth + "|group=" + kafka.consumer_group + "|topic=" + kafka.topic;
  key += "|partitions=";
  for (size_t i = 0; i < kafka.partition_limitation.size(); ++i) {
    const auto& range = kafka.partition_limitation[i];
    key += (i ? "," : "") + std::to_string(range.first) + "-" + std::to_string(range.last);
  }
  if (kafka.scale_to_zero_on_invalid_offset) {
    key += "|invalid=zero";  // both reset policies give 0 then
  } else if (kafka.offset_reset_policy == OffsetResetPolicy::kLatest) {
    key += "|invalid=latest";
  } else {
    key += kafka.earliest_from_log_start ? "|invalid=earliest-from-log-start" : "|invalid=earliest";
  }
  if (kafka.exclude_persistent_lag) key += "|exclude-persistent";
  if (kafka.caps_lag()) {
    key += "|cap=" + std::string(kafka.limit_to_partitions_with_lag ? "with-lag" : "all");
    if (kafka.ensure_even_distribution_of_partitions) key += ",even";
    if (kafka.ceil_partition_cap) key += ",ceil";
    key += "|lagThreshold=" + std::to_string(kafka.lag_threshold);
  }
  // Not a change of value, but the poller decides per key whether to watch for produces.
  if (!kafka.wake_on_produce) key += "|wake=off";
  return key;
}

}  // namespace

bool KafkaTrigger::partition_selected(int32_t partition) const {
  if (partition_limitation.empty()) return true;
  return std::any_of(partition_limitation.begin(), partition_limitation.end(),
                     [partition](const auto& range) { return range.first <= partition && partition <= range.last; });
}

std::span<const std::string_view> kafka_trigger_keys() { return kKeys; }

Status refuse_unhonoured_kafka_keys(const Metadata& metadata) {
  for (const auto& [key, value] : metadata) {
    if (std::find(kCredentialKeys.begin(), kCredentialKeys.end(), key) != kCredentialKeys.end()) {
      return invalid_argument(key + ": KEDA does not forward TriggerAuthentication secrets to external scalers; "
                                    "name a credentials profile of ballast's config with auth: <profile> "
                                    "(its sasl and tls settings) instead");
    }
    if (key == "version") {
      return invalid_argument("version has no meaning here: ballast's Kafka client negotiates the protocol "
                              "version with the brokers");
    }
    if (key == "fullMetadata") {
      return invalid_argument("fullMetadata has no meaning here: ballast fetches metadata only for the topics "
                              "the consumer group reads");
    }
    if (key.ends_with("FromEnv")) {
      return invalid_argument(key + ": ballast does not read *FromEnv keys on kafka triggers; write " +
                              key.substr(0, key.size() - 7) + " itself");
    }
  }
  return Ok{};
}

Status parse_kafka_trigger(const Metadata& metadata, TriggerSpec& spec) {
  if (auto refused = refuse_unhonoured_kafka_keys(metadata); !refused) return refused;
  KafkaTrigger kafka;
  auto servers = parse_servers(metadata);
  if (!servers) return servers.error();
  kafka.bootstrap_servers = std::move(*servers);
  auto group = required(metadata, "consumerGroup", "kafka");
  if (!group) return group.error();
  kafka.consumer_group = *group;
  kafka.topic = value_or(metadata, "topic");

  auto thresholds = thresholds_field<int64_t>(metadata, "lagThreshold", "activationLagThreshold", 10,
                                              /*activation_may_be_negative=*/false);
  if (!thresholds) return thresholds.error();
  kafka.lag_threshold = thresholds->target;
  kafka.activation_lag_threshold = thresholds->activation;

  const auto policy = value_or(metadata, "offsetResetPolicy", "latest");
  if (policy == "latest") {
    kafka.offset_reset_policy = OffsetResetPolicy::kLatest;
  } else if (policy == "earliest") {
    kafka.offset_reset_policy = OffsetResetPolicy::kEarliest;
  } else {
    return invalid_argument("offsetResetPolicy must be latest or earliest, got \"" + policy + "\"");
  }

  const std::pair<const char*, bool*> flags[] = {
      {"allowIdleConsumers", &kafka.allow_idle_consumers},
      {"excludePersistentLag", &kafka.exclude_persistent_lag},
      {"scaleToZeroOnInvalidOffset", &kafka.scale_to_zero_on_invalid_offset},
      {"limitToPartitionsWithLag", &kafka.limit_to_partitions_with_lag},
      {"ensureEvenDistributionOfPartitions", &kafka.ensure_even_distribution_of_partitions},
      {"earliestFromLogStart", &kafka.earliest_from_log_start},
      {"ceilPartitionCap", &kafka.ceil_partition_cap},
      {"wakeOnProduce", &kafka.wake_on_produce},
  };
  for (const auto& [key, field] : flags) {
    auto value = bool_field(metadata, key, *field);
    if (!value) return value.error();
    *field = *value;
  }
  auto limitation = parse_partition_limitation(metadata);
  if (!limitation) return limitation.error();
  kafka.partition_limitation = std::move(*limitation);
  if (auto combined = check_combinations(kafka); !combined) return combined.error();

  spec.threshold = static_cast<double>(kafka.lag_threshold);
  spec.activation_threshold = static_cast<double>(kafka.activation_lag_threshold);
  if (spec.poll_interval.count() == 0) spec.poll_interval = kDefaultPollInterval;
  spec.source_key = source_key(kafka, spec.auth);
  if (spec.metric_name.empty()) {
    spec.metric_name = normalize_metric_name(kafka.topic.empty() ? "kafka-" + kafka.consumer_group + "-topics"
                                                                 : "kafka-" + kafka.topic);
  }
  spec.detail = std::move(kafka);
  return Ok{};
}

}  // namespace ballast::scaler
