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
  kPodAffinity,      // no pod it must run next to in the node's topology domain
  kTopologySpread,   // a DoNotSchedule topology spread constraint would be exceeded
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
// plugins that look at one node only; PodTopology has the inter-pod ones).
FitResult check_static(const PodSchedulingSpec& pod, const NodeShape& node);

// nodeSelector and required node affinity only (what topology spread's
// nodeAffinityPolicy: Honor counts).
bool matches_node_affinity(const PodSchedulingSpec& pod, const Labels& labels, const std::string& node_name);

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

// Where pods run in a simulation, for kube-scheduler's inter-pod filters: InterPodAffinity
// (required affinity and anti-affinity, both ways) and PodTopologySpread (DoNotSchedule).
// Nodes are appended (registered, in-flight and template nodes) and hidden (being
// removed: their pods and domains stop counting). Holds pointers to the labels and pods
// it is given: they must outlive it. Single-threaded, like the planners that own one.
class PodTopology {
 public:
  static constexpr size_t kNoNode = static_cast<size_t>(-1);

  // A node whose labels lack kubernetes.io/hostname (a template node) has `name` as its
  // hostname domain. Returns its index.
  size_t add_node(const Labels* labels, const std::vector<Taint>* taints, std::string name);
  void pop_node();  // the last one added; it must hold no pod
  size_t size() const { return nodes_.size(); }
  void hide(size_t node) { nodes_[node].hidden = true; }
  void place(size_t node, const Pod& pod);
  void unplace(size_t node);  // the pod placed on it last

  // Whether `pod` may run on `node` given the pods placed so far; the pods of `ignore`
  // (the node it is moving away from) do not count, nor does `pod` itself.
  FitResult check(const Pod& pod, size_t node, size_t ignore = kNoNode) const;
  // Whether any placed pod has required anti-affinity (it can turn others away).
  bool has_anti_affinity() const { return !anti_pods_.empty(); }

 private:
  struct TopoNode {
    const Labels* labels;
    const std::vector<Taint>* taints;
    std::string name;
    bool hidden = false;
    std::vector<const Pod*> pods;
  };
  const std::string* domain(size_t node, const std::string& key) const;
  bool counts(size_t node, size_t ignore) const { return !nodes_[node].hidden && node != ignore; }
  // Whether a pod (other than `self`) in node's `key` domain satisfies `match`.
  template <typename Match>
  bool domain_has(size_t node, const std::string& key, size_t ignore, const Pod& self, Match&& match) const;
  FitResult check_anti_affinity(const Pod& pod, size_t node, size_t ignore) const;
  FitResult check_affinity(const Pod& pod, size_t node, size_t ignore) const;
  FitResult check_spread(const Pod& pod, size_t node, size_t ignore) const;

  std::vector<TopoNode> nodes_;
  std::vector<std::pair<size_t, const Pod*>> anti_pods_;  // placed pods with required anti-affinity
};

}  // namespace ballast::nodepool
