#pragma once

#include <string>
#include <vector>

#include "nodepool/cluster_model.h"
#include "nodepool/scheduling.h"

namespace ballast::nodepool {

// One template node the plan adds, and the pending pods it is for.
struct PlannedNode {
  std::vector<PodRef> pods;
  Resources requested;  // sum of those pods' requests (DaemonSets already taken off allocatable)
};

struct OfferingScaleUp {
  std::string offering;
  Resources allocatable;  // the template: capacity − reserved − DaemonSet requests
  std::vector<PlannedNode> nodes;
};

// Why a group could not take a pod: a FitFailure code, or one of
// "max-nodes-reached", "pod-too-young", "offering-too-small" (DaemonSets and reserve
// leave nothing), "no-offerings".
struct GroupRejection {
  std::string group;
  std::string offering;  // empty when the reason is about the whole group
  std::string code;
  std::string message;
};

struct UnplacedPod {
  PodRef pod;
  Resources requests;
  std::vector<GroupRejection> rejections;  // one or more per NodeGroup; empty = no NodeGroups
};

struct GroupScaleUp {
  std::string group;
  int64_t current_nodes = 0;  // registered nodes with the group label
  int64_t in_flight = 0;      // status.inFlight entries not registered yet
  std::vector<OfferingScaleUp> add;  // pending-pod driven, by offering
  int64_t min_nodes_add = 0;         // empty nodes to reach minNodes (first offering)
  std::string min_nodes_offering;

  int64_t nodes_to_add() const;
  int64_t target_nodes() const { return current_nodes + in_flight + nodes_to_add(); }
};

struct ExistingPlacement {
  PodRef pod;
  std::string node;
  bool in_flight = false;  // the node is a requested VM that has not registered yet
};

// The scale-up decision for the whole cluster.
struct ScaleUpPlan {
  std::vector<GroupScaleUp> groups;              // every NodeGroup, sorted by name
  std::vector<ExistingPlacement> fits_existing;  // pending pods that fit capacity already there
  std::vector<UnplacedPod> unplaced;             // pods no group can take, with reasons
  std::vector<PodRef> waiting;                   // unschedulable for less than podAgeSeconds
  size_t pending_considered = 0;                 // pods with PodScheduled=False/Unschedulable

  const GroupScaleUp* find(const std::string& group) const;
};

// Scale-up as cluster-autoscaler does it: pods unschedulable for at least the group's
// scaleUp.podAgeSeconds that fit no existing (or in-flight) node are packed first-fit
// decreasing onto each (group, offering) template; expanders priority → least-waste →
// price (then name) choose the option; repeated until no option places a pod. Never
// beyond maxNodes counting registered and in-flight nodes; groups below minNodes get the
// difference. Pure: no I/O, time comes from `now`.
ScaleUpPlan plan_scale_up(const ClusterSnapshot& cluster, TimePoint now);

// Well-known labels every template node carries besides the group's own labels.
Labels template_labels(const NodeGroup& group, const Offering& offering);

// The template allocatable of a (group, offering): capacity minus reserved minus the
// requests of DaemonSets whose pods would run there. DaemonSets come from
// cluster.daemonsets, or (when the snapshot has none) from DaemonSet-owned pods.
Resources template_allocatable(const ClusterSnapshot& cluster, const NodeGroup& group, const Offering& offering);

}  // namespace ballast::nodepool
