#pragma once

#include <span>
#include <string_view>

#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

// `source: prometheus`: one PromQL instant query (Prometheus, Mimir, Thanos).
struct PrometheusTrigger {};

std::span<const std::string_view> prometheus_trigger_keys();
Status parse_prometheus_trigger(const Metadata& metadata, TriggerSpec& spec);

}  // namespace ballast::scaler
