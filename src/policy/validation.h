#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tier_policy.h"

namespace ballast::policy {

struct Verdict {
  bool allowed = true;
  std::string reason;                 // set when denied
  std::vector<std::string> warnings;  // risky but allowed choices
};

// The object an admission request carries, as validation sees it.
struct ObjectUnderReview {
  std::string_view group;  // API group of the kind ("" for core)
  std::string_view kind;
  std::string_view ns;
  const nlohmann::json& object;
  const nlohmann::json* old_object = nullptr;  // UPDATE only
};

// Pure. Denies:
//  - a pod or pod template asking for a restricted priority class (platform-infra-critical,
//    the built-in system-* classes and any the policy adds) outside the namespaces the
//    policy allows; on UPDATE only when the class changed, so objects admitted before the
//    policy can still be updated and deleted;
//  - a KEDA ScaledObject or ScaledJob whose ballast trigger metadata fails
//    scaler::parse_trigger (the gRPC service's own validator), naming the trigger index and
//    the key; on UPDATE only when spec.triggers changed. A kafka trigger with a KEDA key
//    ballast does not honour (sasl, tls, username, version, *FromEnv, ...) is refused even
//    where *FromEnv keys otherwise soften errors to warnings. A trigger is ballast's when its type is external or
//    external-push and either its scalerAddress is in the policy's scalerAddresses or it
//    carries a `source` key.
// Warns (allows) on ignoreNullValues: "true" and on a ScaledObject's `type: external` with
// minReplicaCount 0, where external-push would wake the workload faster.
Verdict validate_object(const ObjectUnderReview& review, const TierPolicy& policy);

}  // namespace ballast::policy
