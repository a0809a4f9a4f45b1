#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"
#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

// One ballast trigger (type `external` or `external-push`) of a ScaledObject, read from
// the YAML a user applies with kubectl, for `ballast probe -f` and the demo.
struct ScaledObjectTrigger {
  std::string namespace_name;  // "default" when the object names none, as kubectl would apply it
  std::string name;
  int index = 0;  // position in spec.triggers, counting every trigger type
  std::string type;
  Metadata metadata;
  int64_t min_replicas = 0;  // KEDA's defaults: 0 and 100
  int64_t max_replicas = 100;
};

// Every external trigger of every ScaledObject in `yaml` (one or more documents; other
// kinds are skipped). Errors name the document and the field ("document 2
// (ScaledObject ai-services/stt-worker): spec.triggers[0].metadata.lagThreshold: ...").
// Metadata values must be strings or scalars, as KEDA's CRD takes them.
Result<std::vector<ScaledObjectTrigger>> read_scaled_object_triggers(const std::string& yaml);

}  // namespace ballast::scaler
