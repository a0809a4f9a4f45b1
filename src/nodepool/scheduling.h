#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "nodepool/cluster_model.h"
#include "nodepool/k8s_types.h"

namespace ballast::nodepool {

// Why a pod does not fit a node (or a group's template node). Codes are stable: they
// appear in `ballast plan --output json` (see README.md).
enum class FitFailure {
  kNone,
  kNodeSelector,   // spec.nodeSelector does not match the node labels
  kNodeAffinity,   // required node affinity does not match
  kVolumeNodeAffinity,  // a bound PersistentVolume's node affinity does not match
  kTaint,          // a NoSchedule/NoExecute taint the pod does not tolerate
  kInsufficientCpu,
  kInsufficientMemory,
  kTooManyPods,
  kPodAntiAffinity,  // a pod in the node's topology domain it must avoid, or that must avoid it
};

const char* fit_failure_code(FitFailure failure);  // "node-selector", "insufficient-cpu", ...

struct FitResult {
  FitFailure failure = FitFailure::kNone;
  std::string detail;  // e.g. `taint dedicated=db:NoSchedule`, `nodeSelector workload-type=ai`
  bool ok() const { return failure == FitFailure::kNone; }
};

// The labels/taints side of a node: what a pod must match regardless of load.
struct NodeShape {
  std::string name;  // for matchFields metadata.name; a template node's name matches nothing
  const Labels* labels = nullptr;
  const std::vector<Taint>* taints = nullptr;
  bool unschedulable = false;  // cordoned: as the taint node.kubernetes.io/unschedulable:NoSchedule
};

using kube::tolerates;
bool node_selector_term_matches(const NodeSelectorTerm& term, const Labels& labels, const std::string& node_name);

// nodeSelector, required node affinity, PV node affinity, taints (kube-scheduler's filter
// plugins, minus pod (anti-)affinity and topology spread, which the planners do not simulate).
FitResult check_static(const PodSchedulingSpec& pod, const NodeShape& node);

// NodeResourcesFit: requests against what is still free on the node.
FitResult check_resources(const Resources& request, const Resources& free);

// A node in a simulation: its shape plus allocatable and what is already placed on it.
struct SimNode {
  NodeShape shape;
  Resources allocatable;
  Resources used;
  Resources free() const { return allocatable - used; }
};

// Pods whose specs give the same key pass the same static predicates on every node
// (cluster-autoscaler's equivalence groups): nodeSelector, required affinity, volume
// affinity, tolerations.
std::string scheduling_key(const PodSchedulingSpec& pod);

// Memoised static predicates over a fixed list of simulation nodes: for a pod, the nodes
// (in `order`) whose labels, taints and cordon state it accepts. Keeps large simulations
// to resource checks only. Holds references: `nodes` must outlive it and keep its size.
class FeasibleNodes {
 public:
  FeasibleNodes(const std::vector<SimNode>& nodes, std::vector<size_t> order)
      : nodes_(nodes), order_(std::move(order)) {}
  const std::vector<size_t>& for_pod(const PodSchedulingSpec& pod);

 private:
  const std::vector<SimNode>& nodes_;
  std::vector<size_t> order_;
  std::unordered_map<const PodSchedulingSpec*, const std::vector<size_t>*> by_spec_;
  std::unordered_map<std::string, std::vector<size_t>> by_key_;
};

}  // namespace ballast::nodepool
