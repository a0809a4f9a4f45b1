#pragma once

#include <span>
#include <string_view>

#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

// `source: kafka`: consumer-group lag with KEDA's kafka scaler semantics.
struct KafkaTrigger {};

std::span<const std::string_view> kafka_trigger_keys();
Status parse_kafka_trigger(const Metadata& metadata, TriggerSpec& spec);

}  // namespace ballast::scaler
