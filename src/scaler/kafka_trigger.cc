#include "scaler/kafka_trigger.h"

#include <array>

#include "scaler/trigger_spec.h"

namespace ballast::scaler {
namespace {
constexpr std::array<std::string_view, 13> kKeys = {
    "bootstrapServers", "consumerGroup", "topic", "lagThreshold", "activationLagThreshold", "offsetResetPolicy",
    "allowIdleConsumers", "excludePersistentLag", "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag",
    "ensureEvenDistributionOfPartitions", "partitionLimitation", "wakeOnProduce"};
}  // namespace

std::span<const std::string_view> kafka_trigger_keys() { return kKeys; }

Status parse_kafka_trigger(const Metadata&, TriggerSpec&) {
  return invalid_argument("source \"kafka\" is not available in this build of ballast");
}

}  // namespace ballast::scaler
