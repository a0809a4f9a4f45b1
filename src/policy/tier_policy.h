#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ballast::policy {

// Names fixed by CONTRACT.md.
inline constexpr const char* kTierLabel = "ballast.dev/tier";
inline constexpr const char* kDefaultsAnnotation = "ballast.dev/defaults";
inline constexpr const char* kSkipAnnotation = "ballast.dev/skip";

// True when a ballast.dev/defaults annotation value turns defaulting off: "off" in any
// case ("OFF", "Off"), surrounding spaces ignored. Shared by the webhook and the guard.
bool defaults_off(std::string_view annotation_value);
// True when a ballast.dev/skip value (a comma-separated list, spaces ignored) lists `item`
// ("pdb", "vpa").
bool skip_lists(std::string_view skip_value, std::string_view item);
inline constexpr const char* kAppliedTierAnnotation = "ballast.dev/applied-tier";
inline constexpr const char* kHostnameTopologyKey = "kubernetes.io/hostname";

inline constexpr const char* kZoneTopologyKey = "topology.kubernetes.io/zone";

// One topology spread constraint a tier's pods get (a tier may have several, one per key).
struct SpreadRule {
  int max_skew = 1;
  std::string when_unsatisfiable = "ScheduleAnyway";  // or DoNotSchedule
  bool honor_taints = false;                           // nodeTaintsPolicy: Honor (hard constraints)
  std::string topology_key = kHostnameTopologyKey;
};

// One pod anti-affinity term against the workload's own pods (several per tier, one per key).
struct AntiAffinityRule {
  bool required = true;  // requiredDuringScheduling…; else preferredDuringScheduling… with `weight`
  int weight = 100;      // 1..100, preferred terms only
  std::string topology_key = kHostnameTopologyKey;
};

enum class BudgetKind { kNone, kMinAvailable, kMaxUnavailable, kQuorum };

// A budget as the policy writes it: `minAvailable`/`maxUnavailable` with an int or "N%",
// or `minAvailable: quorum`.
struct BudgetValue {
  BudgetKind kind = BudgetKind::kNone;
  std::string value;  // int or percentage for kMinAvailable / kMaxUnavailable
};

// The PodDisruptionBudget the guard makes for a tier. Read by the guard, carried here so
// one document stays the single source of truth.
struct PdbRule {
  using Kind = BudgetKind;
  Kind kind = Kind::kNone;
  std::string value;     // int or percentage for kMinAvailable / kMaxUnavailable
  int min_replicas = 0;  // the rule holds from this replica count; below it, maxUnavailable: 1
  // Workloads a KEDA ScaledObject scales: by its minReplicaCount (0, or 2 and more; a
  // minimum of 1 follows the tier rule above, like an HPA).
  BudgetValue scaled_to_zero{BudgetKind::kMaxUnavailable, "1"};
  BudgetValue keda_min_two_or_more{BudgetKind::kMaxUnavailable, "50%"};
};

// Starting requests (or limits) for containers that set none; empty = leave that resource alone.
struct ResourceRequests {
  std::string cpu;
  std::string memory;
};

// A PriorityClass the policy's tiers name. The PDB guard creates missing ones and reports
// (never changes) one that exists with a different value: `value` and `preemptionPolicy`
// are immutable in Kubernetes.
struct PriorityClassSpec {
  int value = 0;                  // user classes: at most kMaxUserPriority
  bool global_default = false;    // at most one class of the policy
  std::string description;
  std::string preemption_policy;  // empty = Kubernetes' default (PreemptLowerPriority), or "Never"
};

// Kubernetes' highest value for a user-defined PriorityClass (HighestUserDefinablePriority).
inline constexpr int kMaxUserPriority = 1000000000;

// The VerticalPodAutoscaler the guard makes for a tier's workloads (autoscaling.k8s.io/v1).
// Bounds are quantities as written; empty = no bound for that resource.
struct VpaRule {
  std::string update_mode = "Off";  // Off | Initial | Recreate | InPlaceOrRecreate | InPlace | Auto
  ResourceRequests min_allowed;
  ResourceRequests max_allowed;
  std::vector<std::string> controlled_resources{"cpu", "memory"};
};

struct Tier {
  std::string name;
  std::string priority_class;       // empty = no priorityClassName default
  std::vector<SpreadRule> spread;              // empty = no topology spread
  std::vector<AntiAffinityRule> anti_affinity;  // empty = none
  PdbRule pdb;
  ResourceRequests requests;
  // Starting limits, set with the requests on containers that set no resources at all (a
  // platform that sizes requests and limits together); never below the tier's requests.
  ResourceRequests limits;
  // Absent = the guard makes no VerticalPodAutoscaler for this tier.
  std::optional<VpaRule> vpa;
};

// Pods that no Deployment or StatefulSet owns (an operator's: a CNPG cluster's, selected by
// `cnpg.io/cluster`) that still get a guard PDB, `<name>-ballast` in `ns`. The guard counts
// the selected pods to apply the budget (quorum, and the never-block-every-eviction rule).
struct PdbTarget {
  std::string name;
  std::string ns;
  std::map<std::string, std::string> match_labels;  // never empty
  BudgetValue budget;
};

// The tier policy: immutable after loading, shared as shared_ptr<const TierPolicy> by the
// admission webhook and the PDB guard.
struct TierPolicy {
  std::map<std::string, Tier> tiers;
  // Namespace name → tier. A key ending in '*' is a prefix pattern; an exact name wins
  // over patterns, and a longer pattern over a shorter one.
  std::map<std::string, std::string> namespace_tiers;
  std::string default_tier = "standard";
  std::string statefulset_tier = "stateful";
  // Namespaces allowed to use the restricted priority classes.
  std::set<std::string> privileged_namespaces;
  // Restricted besides every built-in `system-*` class.
  std::set<std::string> restricted_priority_classes;
  // scalerAddress values that mean "this ScaledObject trigger is served by ballast".
  std::set<std::string> scaler_addresses;
  // PriorityClass name → spec. Every tier's priorityClassName is here, except the
  // Kubernetes built-in `system-*` classes, which no policy may define.
  std::map<std::string, PriorityClassSpec> priority_classes;
  std::vector<PdbTarget> pdb_targets;

  const Tier* find_tier(std::string_view name) const;
  // The namespace rule for `ns`, or nullptr when none matches.
  const std::string* namespace_tier(std::string_view ns) const;
  bool is_restricted_priority_class(std::string_view name) const;
  bool may_use_priority_class(std::string_view ns, std::string_view name) const;
};

// The built-in policy: CONTRACT.md's tier table and namespace map.
TierPolicy default_policy();

// Parses a policy YAML document over the built-in default (see README.md for the format).
// Unknown keys, unknown tiers and malformed quantities are errors: a bad policy must fail
// at start-up, never produce patches the apiserver cannot decode.
Result<TierPolicy> parse_policy(std::string_view yaml_text);

// Reads and parses the policy file. Blocking: start-up only.
Result<TierPolicy> load_policy(const std::string& path);


}  // namespace ballast::policy
