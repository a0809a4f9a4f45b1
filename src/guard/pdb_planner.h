#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tier_policy.h"

namespace ballast::guard {

// Names fixed by CONTRACT.md ("Kubernetes objects").
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr const char* kManagedByValue = "ballast";
inline constexpr const char* kPdbNameSuffix = "-ballast";
// On PDBs made for a policy `pdbTargets` entry (they have no owner): the entry's name.
inline constexpr const char* kPdbTargetLabel = "ballast.dev/pdb-target";

// A cluster snapshot as the watches hold it: list items (which carry no kind/apiVersion, so
// each vector says the kind). The planner only reads it.
struct PdbPlannerInput {
  std::vector<nlohmann::json> deployments;    // apps/v1
  std::vector<nlohmann::json> stateful_sets;  // apps/v1
  std::vector<nlohmann::json> pdbs;           // policy/v1, every PDB in the watched namespaces
  std::vector<nlohmann::json> scaled_objects; // keda.sh/v1alpha1; empty when the CRD is absent
  std::vector<nlohmann::json> namespaces;     // v1
  // Policy pdbTargets "<namespace>/<name>" → the pods its matchLabels select (v1).
  std::map<std::string, std::vector<nlohmann::json>> target_pods;
};

struct CreatePdb {
  nlohmann::json pdb;  // a complete policy/v1 PodDisruptionBudget: the POST body
  std::string reason;  // "tier standard (default), 3 replicas: minAvailable 1"
};

struct UpdatePdb {
  std::string ns;
  std::string name;
  std::string resource_version;  // of the object planned over: the PUT conflicts (409) if it moved on
  nlohmann::json pdb;            // the existing object with the fields ballast owns set: the PUT body
  std::string reason;
};

struct DeletePdb {
  std::string ns;
  std::string name;
  std::string uid;               // DeleteOptions.preconditions: never delete a newer object
  std::string resource_version;  // of the same name, nor one changed since it was read
  std::string reason;
};

using PdbAction = std::variant<CreatePdb, UpdatePdb, DeletePdb>;

// Why a workload gets no PDB from ballast (or not the usual one), for an Event on the
// workload and a log line. Repeated on every plan while it holds: the reconciler dedupes.
struct PdbNote {
  enum class Reason {
    kOptedOut,           // ballast.dev/defaults: "off", or ballast.dev/skip lists pdb
    kTierHasNoPdb,       // e.g. batch
    kForeignPdbOverlap,  // a PDB ballast does not own selects its pods (other_pdb)
    kBallastPdbOverlap,  // the PDB of another workload would select the same pods (other_pdb)
    kNoSelector,         // spec.selector missing, empty (all pods) or unreadable
    kNameTaken,          // <name>-ballast exists and is not ballast's, or is claimed by another workload
    kInvalidObject,      // no name, namespace or uid
    kUnknownTier,        // a ballast.dev/tier label names no tier (ignored; the PDB still follows the fallback)
  };
  Reason reason = Reason::kOptedOut;
  std::string ns;
  std::string kind;  // Deployment | StatefulSet | PodDisruptionBudget (a pdbTargets entry's)
  std::string name;
  std::string other_pdb;
  std::string message;
};

struct PdbPlan {
  // Deletes first, then updates, then creates, so a PDB that moves between workloads is
  // never doubled over the same pods (an eviction matched by two PDBs fails with 500).
  std::vector<PdbAction> actions;
  std::vector<PdbNote> notes;
};

// The budget a PDB gets: exactly one of minAvailable / maxUnavailable.
struct PdbBudget {
  std::string field;     // "minAvailable" or "maxUnavailable"
  nlohmann::json value;  // an integer or "N%"
  std::string why;
};

// CONTRACT.md's budget rules for one workload. `keda_min_replicas` is the
// minReplicaCount of the ScaledObject that scales it, if any: 0 takes the tier's
// `scaledToZero` budget, 2 or more its `kedaMinTwoOrMore` budget, 1 the tier rule. Returns
// nullopt when the tier makes no PDB. Never returns a budget that blocks every eviction: a
// minAvailable that would reach the replica count (or KEDA's minimum, if higher), or a zero
// maxUnavailable, becomes maxUnavailable 1 (clamped, with the reason in `why`).
std::optional<PdbBudget> pdb_budget(const policy::PdbRule& rule, int replicas, std::optional<int> keda_min_replicas);

// Pure: the actions that make the cluster's ballast PDBs match the policy, and notes for
// the workloads left alone. The tier is policy::select_tier()'s, except that a
// `ballast.dev/tier` label on the Namespace object comes after the workload's own labels
// and before the policy's namespace map (the webhook sees no Namespace objects, so it
// does not apply that label). Never throws; objects of an unexpected shape are skipped with
// a note. Running it again over the result of its actions yields no action.
PdbPlan plan_pdbs(const policy::TierPolicy& policy, const PdbPlannerInput& input);

}  // namespace ballast::guard
