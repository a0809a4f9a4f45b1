#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "kube/model/shared_objects.h"
#include "nodepool/k8s_types.h"
#include "nodepool/node_group.h"
#include "core/timestamp.h"

namespace ballast::nodepool {

// Annotations the planners honour (cluster-autoscaler's and Karpenter's names).
inline constexpr const char* kSafeToEvictAnnotation = "cluster-autoscaler.kubernetes.io/safe-to-evict";
inline constexpr const char* kSafeToEvictLocalVolumesAnnotation =
    "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes";
inline constexpr const char* kScaleDownDisabledAnnotation = "cluster-autoscaler.kubernetes.io/scale-down-disabled";
inline constexpr const char* kDoNotDisruptAnnotation = "karpenter.sh/do-not-disrupt";
inline constexpr const char* kMirrorPodAnnotation = "kubernetes.io/config.mirror";

// The scheduling-relevant part of a pod spec (also a DaemonSet's pod template).
struct PodSchedulingSpec {
  Resources requests;  // max(sum(containers)+sidecars, any init) + overhead; pods = 1
  Labels node_selector;
  std::vector<NodeSelectorTerm> required_affinity;  // empty = none
  std::vector<Toleration> tolerations;
  // Required node affinity of the pod's bound PersistentVolumes, one entry per volume
  // (terms ORed within an entry, entries ANDed). Not parsed from the pod: the scale-down
  // planner fills it in from the snapshot's PVCs and PVs, as kube-scheduler's VolumeBinding.
  std::vector<std::vector<NodeSelectorTerm>> volume_affinity;
};

// A pod volume backed by a PersistentVolumeClaim of the pod's namespace: a
// `persistentVolumeClaim` volume, or a generic `ephemeral` one (claim `<pod>-<volume>`).
struct PodClaim {
  std::string volume;  // the pod's volume name
  std::string claim;   // PersistentVolumeClaim name
};

// One required pod affinity or anti-affinity term (core/v1 PodAffinityTerm): a pod
// matching `selector` in `namespaces` must (affinity) or may not (anti-affinity) run in
// the same `topology_key` domain.
struct PodAffinityTerm {
  LabelSelector selector;              // labelSelector (null matches nothing)
  std::vector<std::string> namespaces;  // empty = the pod's own namespace
  bool all_namespaces = false;          // a namespaceSelector is set: we have no namespace
                                        // labels, so it counts as every namespace (stricter)
  std::string topology_key;

  // Whether `other` (of namespace `ns`) is a pod this term, written in `own_ns`, selects.
  bool selects(const std::string& own_ns, const std::string& ns, const Labels& labels) const;
};

// One `DoNotSchedule` topologySpreadConstraint (ScheduleAnyway ones are preferences the
// planners do not simulate): among the `topology_key` domains of the nodes the pod may
// use, the matching pods' counts may differ by at most `max_skew`.
struct TopologySpreadConstraint {
  int64_t max_skew = 1;
  std::string topology_key;
  LabelSelector selector;  // pods of the pod's namespace it counts (null counts none)
  int64_t min_domains = 1;
  bool honor_node_affinity = true;  // nodeAffinityPolicy (default Honor)
  bool honor_node_taints = false;   // nodeTaintsPolicy (default Ignore)
};

struct Pod {
  std::string ns;
  std::string name;
  Labels labels;
  Labels annotations;
  PodSchedulingSpec spec;
  std::string node_name;   // spec.nodeName; empty = not bound
  std::string phase;       // status.phase
  int64_t priority = 0;    // spec.priority
  std::string controller_kind;  // ownerReference with controller: true; empty = bare pod
  std::string controller_name;
  bool mirror = false;            // static pod's mirror (kubernetes.io/config.mirror)
  std::vector<std::string> local_volumes;  // emptyDir (not Memory) and hostPath volume names
  std::vector<PodClaim> claims;            // persistentVolumeClaim and generic ephemeral volumes
  // spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution
  std::vector<PodAffinityTerm> required_anti_affinity;
  // spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution
  std::vector<PodAffinityTerm> required_pod_affinity;
  std::vector<TopologySpreadConstraint> topology_spread;  // the DoNotSchedule ones
  bool terminating = false;       // metadata.deletionTimestamp set
  // PodScheduled=False reason=Unschedulable, with the condition's lastTransitionTime.
  bool unschedulable = false;
  std::optional<TimePoint> unschedulable_since;

  PodRef ref() const { return {ns, name}; }
  bool daemonset() const { return controller_kind == "DaemonSet"; }
  // Whether the scheduler's inter-pod filters (affinity, anti-affinity, spread) apply.
  bool has_inter_pod_terms() const {
    return !required_anti_affinity.empty() || !required_pod_affinity.empty() || !topology_spread.empty();
  }
  // Succeeded/Failed pods hold no resources.
  bool terminal() const { return phase == "Succeeded" || phase == "Failed"; }
};

struct Node {
  std::string name;
  Labels labels;
  Labels annotations;
  std::vector<Taint> taints;
  Resources allocatable;
  bool unschedulable = false;  // spec.unschedulable (cordoned)
  bool ready = true;           // Ready condition (absent = assumed ready)
  // When a Ready condition other than True (False, or Unknown: the kubelet stopped
  // reporting or never did) last changed: its lastTransitionTime, else creationTimestamp.
  std::optional<TimePoint> not_ready_since;
  std::optional<TimePoint> created;
  bool starting = false;  // carried a startup taint (dropped from `taints`: planned as gone)
  std::vector<std::string> pressure;  // MemoryPressure, DiskPressure, PIDPressure conditions that are True

  // The NodeGroup this node belongs to (label ballast.dev/nodegroup), or empty.
  std::string group() const;
};

struct PodDisruptionBudget {
  std::string ns;
  std::string name;
  LabelSelector selector;
  int64_t disruptions_allowed = 0;  // status.disruptionsAllowed (absent = 0)
};

// core/v1 PersistentVolume: what scale-down needs to know where its pods may move.
struct PersistentVolume {
  std::string name;
  std::string claim_ns;  // spec.claimRef (empty = not bound)
  std::string claim_name;
  // spec.nodeAffinity.required.nodeSelectorTerms (ORed); empty = usable from any node
  // (network storage). local-path, local and most hostPath PVs name one node here.
  std::vector<NodeSelectorTerm> node_affinity;
  std::string source;  // "local", "hostPath", "csi", ... (the spec's volume source), for reports
};

// core/v1 PersistentVolumeClaim.
struct PersistentVolumeClaim {
  std::string ns;
  std::string name;
  std::string volume_name;  // spec.volumeName (empty = not bound yet)
};

struct DaemonSet {
  std::string ns;
  std::string name;
  PodSchedulingSpec pod;  // spec.template.spec
};

struct ReplicaSet {
  std::string ns;
  std::string name;
  std::string owner_kind;  // controller ownerReference (Deployment)
  std::string owner_name;
};

// What the planners see of the cluster: one consistent snapshot, replaced whole.
struct ClusterSnapshot {
  std::vector<Node> nodes;
  std::vector<Pod> pods;
  std::vector<PodDisruptionBudget> pdbs;
  std::vector<NodeGroup> node_groups;
  std::vector<DaemonSet> daemonsets;
  std::vector<ReplicaSet> replicasets;
  std::vector<PersistentVolume> persistent_volumes;
  std::vector<PersistentVolumeClaim> persistent_volume_claims;
  std::vector<std::string> notes;  // objects that were skipped, and why
};

// A pod claim's PersistentVolume, found as kube-scheduler's VolumeBinding finds it: the
// claim's spec.volumeName, else (the claim not in the snapshot) a PV whose claimRef names it.
struct ClaimVolume {
  enum class State { kBound, kUnbound, kUnknown };
  State state = State::kUnknown;
  const PersistentVolume* pv = nullptr;  // kBound
  std::string missing;                   // kUnknown: what the snapshot lacks, for messages
};

// The snapshot's PVCs and PVs, indexed. Holds pointers into the snapshot.
class VolumeIndex {
 public:
  explicit VolumeIndex(const ClusterSnapshot& cluster);
  ClaimVolume find(const std::string& pod_ns, const PodClaim& claim) const;

 private:
  std::unordered_map<std::string, const PersistentVolumeClaim*> claims_;  // ns/name
  std::unordered_map<std::string, const PersistentVolume*> by_name_;
  std::unordered_map<std::string, const PersistentVolume*> by_claim_;     // claimRef ns/name
};

// One object each → model. Errors name the object: `Pod shop/web-1: spec.containers[0].
// resources.requests.cpu: invalid quantity "lots": unknown suffix`.
Result<Node> parse_node(const nlohmann::json& object);
Result<Pod> parse_pod(const nlohmann::json& object);
Result<PodDisruptionBudget> parse_pdb(const nlohmann::json& object);
Result<DaemonSet> parse_daemonset(const nlohmann::json& object);
Result<ReplicaSet> parse_replicaset(const nlohmann::json& object);
Result<PersistentVolume> parse_persistent_volume(const nlohmann::json& object);
Result<PersistentVolumeClaim> parse_persistent_volume_claim(const nlohmann::json& object);

// Objects of any kind (as a watch delivers them) → snapshot. Kinds other than Node, Pod,
// PodDisruptionBudget, NodeGroup, DaemonSet, ReplicaSet, PersistentVolume and
// PersistentVolumeClaim are skipped with a note.
Result<ClusterSnapshot> parse_objects(const kube::SharedObjects& objects);

// A `kind: List` (what `kubectl get ... -o json` prints), or a single object.
Result<ClusterSnapshot> parse_snapshot(const nlohmann::json& document);

// The same from JSON text, streaming: each item of a List becomes model as soon as it is
// parsed and its JSON is dropped, so peak memory is the text plus the model, not a whole
// DOM (a 1,000-node snapshot is ~15 MB of text and ~10x that as a DOM).
Result<ClusterSnapshot> parse_snapshot_text(std::string_view text);

}  // namespace ballast::nodepool
