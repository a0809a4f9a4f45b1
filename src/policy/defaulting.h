#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tier_policy.h"

namespace ballast::policy {

// The kinds the webhook defaults (group apps for workloads, batch for Jobs, core for Pods).
enum class WorkloadKind { kDeployment, kStatefulSet, kJob, kCronJob, kPod, kOther };

WorkloadKind workload_kind(std::string_view group, std::string_view kind);
// The kind's pod template (spec.template; a CronJob's spec.jobTemplate.spec.template), or
// null for Pods, other kinds and objects without one.
const nlohmann::json* pod_template_of(const nlohmann::json& object, WorkloadKind kind);
// JSON pointer of the pod spec the defaults go to ("/spec" for a Pod; "" for kOther).
std::string pod_spec_pointer(WorkloadKind kind);

struct TierChoice {
  const Tier* tier = nullptr;  // never null: the policy's default tier exists
  std::string source;          // "workload label", "pod template label", "namespace rule", "kind", "default"
  std::vector<std::string> warnings;
};

// Tier of an object: the `ballast.dev/tier` label on the object, then on its pod
// template, then the policy's namespace rule, then the StatefulSet default, then the
// policy default. A label naming an unknown tier is ignored with a warning.
TierChoice select_tier(const nlohmann::json& object, WorkloadKind kind, std::string_view ns, const TierPolicy& policy);

struct Defaulted {
  nlohmann::json object;              // the defaulted object (equal to the input when untouched)
  std::vector<std::string> warnings;  // what was defaulted, and what was not and why
  std::string tier;                   // applied tier; empty when the object was left alone
};

// Pure: the object with the tier's defaults added where absent. Deployments and
// StatefulSets get spread, anti-affinity, priorityClassName and requests on their pod
// template; Jobs and CronJobs priorityClassName and requests only (no spread); bare Pods (no controller owner, not mirror pods) get all of these except
// priorityClassName. Explicit settings always win: a spread constraint or anti-affinity
// term (required or preferred) on a topology key leaves the tier's rule for that key
// alone, and any priorityClassName or requests leave that part alone, so a second pass
// over the result changes nothing. Honors
// `ballast.dev/defaults: "off"` and `ballast.dev/skip` on the object or its template.
// Only `metadata` and the pod spec (at pod_spec_pointer(kind)) ever change.
Defaulted apply_defaults(const nlohmann::json& object, WorkloadKind kind, std::string_view ns,
                         const TierPolicy& policy);

}  // namespace ballast::policy
