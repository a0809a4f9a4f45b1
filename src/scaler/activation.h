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

// The values KEDA reads from a MetricValue: metricValue (int, deprecated) and
// metricValueFloat. KEDA uses the float only when > 0, so the int must agree with it.
struct WireValue {
  int64_t integer;
  double floating;
};
inline WireValue wire_value(double value) {
  const double clamped = std::isfinite(value) && value > 0 ? value : 0.0;
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
  const auto desired = static_cast<int64_t>(std::ceil(std::max(value, 0.0) / target));
  return std::clamp(desired, std::max<int64_t>(min_replicas, 1), max_replicas);
}

}  // namespace ballast::scaler
