#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nodepool/cluster_model.h"
#include "nodepool/scale_up_planner.h"
#include "nodepool/scheduling.h"

namespace ballast::nodepool {

// Why a node (or a whole group) is not removed now. Codes are stable (JSON `code`).
enum class BlockReason {
  // group level
  kScaleDownDisabled,    // spec.scaleDown.enabled: false
  kDelayAfterAdd,        // within delayAfterAddSeconds of status.lastScaleUp.time
  kDelayAfterFailure,    // within delayAfterFailureSeconds of status.lastScaleDownFailure.time
  kScaleUpPlanned,       // this pass scales the group up
  kMinNodes,             // removing it would take the group below minNodes
  // node level
  kNodeScaleDownDisabled,  // cluster-autoscaler.kubernetes.io/scale-down-disabled: "true"
  kNodeDoNotDisrupt,       // karpenter.sh/do-not-disrupt: "true" on the node
  kNodeNotReady,           // NotReady for less than unreadySeconds
  kTooManyUnready,         // more than 3 nodes and 45 % of the cluster unready: none is removed
  kUnneededTooShort,       // below the threshold for less than unneededSeconds
  kNonEmptyLimit,          // another non-empty node goes first (one at a time)
  kEmptyBulkLimit,         // maxEmptyBulkDelete empty nodes already go this pass
  // pod level
  kPdb,                // a PDB selecting the pod allows no (or too few) disruptions
  kBarePod,            // no controller ownerReference
  kLocalStorage,       // emptyDir (not Memory) or hostPath
  kKubeSystemNoPdb,    // kube-system pod without a PDB
  kSafeToEvictFalse,   // cluster-autoscaler.kubernetes.io/safe-to-evict: "false"
  kPodDoNotDisrupt,    // karpenter.sh/do-not-disrupt: "true" on the pod
  kNoPlaceToMove,      // the pod fits no remaining node in simulation
  kNodeBoundVolume,    // a PersistentVolume of the pod only this node can reach (local-path, local)
  kUnknownVolume,      // the pod's PersistentVolumeClaim (or its PV) is not in the snapshot
};

const char* block_code(BlockReason reason);  // "pdb", "bare-pod", "delay-after-add", ...

struct Blocker {
  BlockReason reason;
  std::string pod;  // namespace/name when a pod blocks
  std::string pdb;  // namespace/name when a PDB blocks
  std::string message;
};

enum class NodeState {
  kRemove,    // remove in this pass (drain first when not empty)
  kUnneeded,  // a candidate that waits (timer, limits, group gates): see blockers
  kNeeded,    // utilization at or above the threshold
  kBlocked,   // something on the node forbids removal: see blockers
};
const char* node_state_code(NodeState state);  // "remove", "unneeded", "needed", "blocked"

struct PodMove {
  PodRef pod;
  std::string to;  // destination node in the simulation
};

struct NodeScaleDown {
  std::string node;
  NodeState state = NodeState::kNeeded;
  double utilization = 0;  // max(cpu, memory) of requests / allocatable
  double cpu_utilization = 0;
  double memory_utilization = 0;
  bool empty = false;      // no pods to move (DaemonSet and mirror pods don't count)
  std::optional<TimePoint> unneeded_since;  // what the reconciler records in status.nodes[]
  // Set for a node that is not Ready: since when. A kRemove node with it set is removed
  // because it has been unready for unreadySeconds: no drain (its kubelet cannot stop
  // pods), the VM and the Node are deleted.
  std::optional<TimePoint> not_ready_since;
  std::vector<PodMove> moves;               // candidates: where each movable pod would go
  std::vector<Blocker> blockers;
};

struct GroupScaleDown {
  std::string group;
  int64_t current_nodes = 0;
  std::vector<Blocker> group_blockers;  // gates that stop every removal in the group
  std::vector<NodeScaleDown> nodes;     // every node of the group, by name
  std::vector<std::string> remove;      // nodes with state kRemove

  int64_t target_nodes() const { return current_nodes - static_cast<int64_t>(remove.size()); }
};

struct ScaleDownPlan {
  std::vector<GroupScaleDown> groups;  // every NodeGroup, sorted by name
  const GroupScaleDown* find(const std::string& group) const;
};

struct ScaleDownOptions {
  // Groups a scale-up in this same pass grows: no removal there (as if lastScaleUp = now).
  std::set<std::string> groups_scaling_up;
  // Pending pods the scale-up pass found room for on existing nodes (its fits_existing):
  // they count there as if bound, so no drain plans with space they will take.
  std::vector<ExistingPlacement> pending_placements;
};

// Scale-down with cluster-autoscaler's rules (see README.md): a node of a group is
// unneeded when it is empty or max(cpu, memory) requests / allocatable ≤
// utilizationThreshold, nothing on it blocks, and every movable pod re-fits on the
// remaining nodes in simulation (honouring its PersistentVolumes' node affinity). It is
// removed once unneeded for unneededSeconds (since status.nodes[].unneededSince; with no
// record, since `now`: nothing goes until the reconciler has seen it that long), outside
// the delays after scale-up/failure, never below minNodes: empty nodes in bulk up to
// maxEmptyBulkDelete per group, one non-empty node per pass for the whole cluster.
// A node NotReady for unreadySeconds is removed without the utilization test or a
// simulation, unless a pod on it holds a node-bound volume or opts out (see README.md).
// Pure: no I/O, time comes from `now`.
ScaleDownPlan plan_scale_down(const ClusterSnapshot& cluster, TimePoint now, const ScaleDownOptions& options = {});

}  // namespace ballast::nodepool
