#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "scaler/metric_hub.h"
#include "scaler/trigger_spec.h"

namespace ballast::scaler {

// KEDA applies no activation threshold to external triggers, so we do: strictly greater.
inline bool is_active(const TriggerSpec& spec, const Sample& sample) {
  return sample.activation_value > spec.activation_threshold;
}

// The largest metric value or target ballast reports. KEDA turns metricValueFloat and
// targetSizeFloat into milli-quantities (int64 of value x 1000), so anything above
// INT64_MAX / 1000 would overflow there; 9e15 is below that and exact as a double.
inline constexpr double kMaxWireValue = 9e15;

// The values KEDA reads from a MetricValue: metricValue (int, deprecated) and
// metricValueFloat. KEDA uses the float only when > 0, so the int must agree with it.
struct WireValue {
  int64_t integer;
  double floating;
};
// NaN and values <= 0 are 0 (no load). Values above kMaxWireValue, +inf included,
// saturate to it: a huge load must never read as none, and the double -> int64
// conversion must never leave int64's range (undefined behaviour).
inline WireValue wire_value(double value) {
  if (std::isnan(value) || value <= 0) return {0, 0.0};
  const double clamped = std::min(value, kMaxWireValue);
  return {static_cast<int64_t>(std::llround(clamped)), clamped};
}

// What a StreamIsActive stream has told KEDA: the first state is always sent, later
// ones only when the state flips (KEDA treats every `true` as a fresh activation).
class ActivationEdges {
 public:
  std::optional<bool> observe(bool active) {
    if (last_sent_ == active) return std::nullopt;
    last_sent_ = active;
    return active;
  }

 private:
  std::optional<bool> last_sent_;
};

}  // namespace ballast::scaler

namespace ballast::scaler {

// The replica count KEDA and the HPA settle on for a ScaledObject with this one
// AverageValue trigger: zero while inactive with minReplicaCount 0, else
// ceil(value / target) within [max(min, 1), max].
inline int64_t expected_replicas(double value, double target, bool active, int64_t min_replicas,
                                 int64_t max_replicas) {
  if (!active && min_replicas == 0) return 0;
  // Clamped as a double first: the cast of a ratio past int64's range is undefined.
  const double ratio = std::ceil(std::max(value, 0.0) / target);
  const auto desired = ratio >= static_cast<double>(max_replicas) ? max_replicas : static_cast<int64_t>(ratio);
  return std::clamp(desired, std::max<int64_t>(min_replicas, 1), max_replicas);
}

}  // namespace ballast::scaler
