#pragma once

#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tier_policy.h"

namespace ballast::guard {

// A cluster snapshot for the VPA planner (list items; each vector says the kind).
struct VpaPlannerInput {
  std::vector<nlohmann::json> deployments;     // apps/v1
  std::vector<nlohmann::json> stateful_sets;   // apps/v1
  std::vector<nlohmann::json> vpas;            // autoscaling.k8s.io/v1, every VPA in the watched namespaces
  std::vector<nlohmann::json> scaled_objects;  // keda.sh/v1alpha1; empty when the CRD is absent
  std::vector<nlohmann::json> hpas;            // autoscaling/v2
};

struct CreateVpa {
  nlohmann::json vpa;  // a complete VerticalPodAutoscaler: the POST body
  std::string reason;
};

struct UpdateVpa {
  std::string ns;
  std::string name;
  std::string resource_version;  // the PUT conflicts (409) if the object moved on
  nlohmann::json vpa;            // the existing object with the fields ballast owns set
  std::string reason;
};

struct DeleteVpa {
  std::string ns;
  std::string name;
  std::string uid;  // DeleteOptions.preconditions
  std::string resource_version;
  std::string reason;
};

using VpaAction = std::variant<CreateVpa, UpdateVpa, DeleteVpa>;

// Why a workload of a tier with a `vpa` block gets no VPA from ballast.
struct VpaNote {
  enum class Reason {
    kOptedOut,         // ballast.dev/defaults: "off", or ballast.dev/skip lists vpa
    kResourceScaled,   // an HPA or a KEDA ScaledObject scales it on cpu or memory
    kForeignVpa,       // a VPA ballast does not own targets it (other)
    kNameTaken,        // <name>-ballast exists and is not ballast's, or another workload's
    kInvalidObject,    // no name, namespace or uid
  };
  Reason reason = Reason::kOptedOut;
  std::string ns;
  std::string kind;  // Deployment | StatefulSet
  std::string name;
  std::string other;  // the foreign VPA, or the HPA / ScaledObject that scales on a resource
  std::string message;
};

struct VpaPlan {
  std::vector<VpaAction> actions;  // deletes, then updates, then creates
  std::vector<VpaNote> notes;
};

// Pure: one VerticalPodAutoscaler `<workload>-ballast` per Deployment and StatefulSet whose
// tier (policy::select_tier's) has a `vpa` block, owned by the workload; none (and ballast's
// deleted) where the workload opts out, another VPA targets it, or an HPA or ScaledObject
// scales it on cpu or memory (VPA and a resource-based HPA fight over the same signal).
// Never throws; running it again over the result of its actions yields no action.
VpaPlan plan_vpas(const policy::TierPolicy& policy, const VpaPlannerInput& input);

}  // namespace ballast::guard
