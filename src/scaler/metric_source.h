#pragma once

#include "scaler/trigger_spec.h"

namespace ballast::scaler {

// A backend that keeps MetricHub entries fresh (Kafka lag, PromQL, session counters).
// Owned by the composition root and outlives the gRPC service that calls it.
class MetricSource {
 public:
  virtual ~MetricSource() = default;

  // Called once per distinct spec.source_key, on the first RPC that names it, from a gRPC
  // thread: start publishing that key into the hub. Must not block.
  virtual void watch(const TriggerSpec& spec) = 0;
};

}  // namespace ballast::scaler
