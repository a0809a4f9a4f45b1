#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/timestamp.h"
#include "nodepool/cluster_model.h"
#include "nodepool/scale_down_planner.h"
#include "nodepool/scale_up_planner.h"

namespace ballast::nodepool {

// Names the reconciler writes on, or reads from, Nodes (CONTRACT.md and cluster-autoscaler's practice).
inline constexpr const char* kToBeDeletedTaint = "ballast.dev/to-be-deleted";
inline constexpr const char* kDrainStartedAnnotation = "ballast.dev/drain-started";
// A pipeline that names its own nodes may echo the request's `requestId` here, so the
// Node is matched to that request rather than to the oldest one in flight.
inline constexpr const char* kRequestIdAnnotation = "ballast.dev/request-id";

// Who an Event is about: kind "NodeGroup", "Node" or "Pod".
struct EventSubject {
  std::string kind;
  std::string ns;
  std::string name;
};

// What one pass of the node-pool reconciler does, decided before anything is done. The
// reconciler executes the actions in order; an action's outcome (a provider refusal, an
// eviction answer) is the executor's to record, never a reason to re-plan within the pass.
namespace action {

// Record each of `count` VMs in status.inFlight, then ask the provider for it.
struct ScaleUp {
  std::string group;
  std::string offering;
  int64_t count = 0;
  int desired = 0;  // the group's size once these join
  std::string reason;
};
// A Node of another name registered while the request `request` was in flight: it is that
// request's VM (a pipeline named it). The entry stays in flight until the node takes pods.
struct AdoptNode {
  std::string group;
  std::string request;  // status.inFlight[].name
  std::string node;
};
// The request's Node takes pods: the entry leaves status.inFlight.
struct EndInFlight {
  std::string group;
  std::string request;
  std::string node;
};
// No Node registered within provisionTimeoutSeconds: delete the VM at the provider (telling
// it the group's size), then drop the entry and record a scale-up failure.
struct ProvisionTimeout {
  std::string group;
  std::string request;
  std::string provider_id;  // empty = the provider never answered; it finds the VM by the request name
  int desired = 0;
  int64_t timeout_seconds = 0;
};
// Taint ballast.dev/to-be-deleted:NoSchedule, cordon, annotate the drain's start.
struct StartDrain {
  std::string group;
  std::string node;
};
// Eviction API for one pod of a draining node (429 = tried again next pass).
struct Evict {
  std::string node;
  PodRef pod;
};
// Untaint and uncordon; the group records a scale-down failure.
struct UndoDrain {
  std::string group;
  std::string node;
  std::string why;
};
// Delete the VM at the provider (when the group is known), then the Node object.
struct DeleteNode {
  std::string group;  // empty: a node of no NodeGroup; only the Node object goes
  std::string node;
  int desired = 0;    // the group's size after the removal
  bool drained = false;  // false: removed unready, nothing was drained
  std::string why;
};
// An Event, once per key (kube::ReportOnce) unless `key` is empty.
struct Report {
  std::string key;
  EventSubject subject;
  bool warning = false;
  std::string reason;
  std::string message;
};

}  // namespace action

using Action = std::variant<action::ScaleUp, action::AdoptNode, action::EndInFlight, action::ProvisionTimeout,
                            action::StartDrain, action::Evict, action::UndoDrain, action::DeleteNode, action::Report>;

// One status condition of a NodeGroup (Ready, ScalingUp, ScalingDown, Backoff).
struct GroupCondition {
  std::string type;
  bool status = false;
  std::string reason;
  std::string message;
};

// What a pass knows of a group's status before any action runs. The executor adds what
// actions report (lastScaleUp, failures, new in-flight entries).
struct GroupStatusPlan {
  std::string group;
  int64_t current_nodes = 0;  // registered Nodes with the group label
  int64_t ready_nodes = 0;    // of those, the ones taking pods
  int64_t desired_nodes = 0;  // current + in flight + to add − to remove
  int64_t in_flight = 0;      // requests still in flight after this pass's adoptions, ends and timeouts
  int64_t unschedulable_pods = 0;  // pending pods only this group could take, or that it rejected
  std::vector<GroupCondition> conditions;
  nlohmann::json nodes = nlohmann::json::array();  // status.nodes[]
  // Since when the group has been above scaleUp.utilizationThreshold or had a node under
  // pressure; unset when it is not (status.pressureSince, so a new leader keeps the clock).
  std::optional<TimePoint> pressure_since;
};

struct ActuationOptions {
  bool dry_run = false;  // Report what would be done (DryRunScaleUp, DryRunScaleDown) instead of doing it
  int64_t provision_timeout_seconds = 900;  // when a NodeGroup does not say
};

struct ActuationPlan {
  ScaleUpPlan up;
  ScaleDownPlan down;
  std::vector<Action> actions;
  std::vector<GroupStatusPlan> statuses;  // one per NodeGroup, by name
  // The first instant after `now` at which a timer this pass waits on ends (a provision
  // timeout, a drain's maxGracefulTerminationSeconds, scale-up backoff or cooldown,
  // sustained pressure, a pending pod's podAgeSeconds, scale-down's unneeded, unready and
  // delay timers), so the reconciler runs then instead of at its next interval.
  std::optional<TimePoint> next_due;
};

// A Node that can take pods: Ready and none of the taints a node carries while it starts (a
// Node without a status yet is not in the snapshot at all). Until then the
// planner cannot place pending pods there, so ending its in-flight entry earlier would
// order a second VM for the same pods (seen on the real control plane).
bool takes_pods(const Node& node);

// Why a group is under pressure (requested cpu or memory above scaleUp.utilizationThreshold
// over its Ready nodes, or a node with MemoryPressure, DiskPressure or PIDPressure), or
// empty when it is not. Pure.
std::string group_pressure(const NodeGroup& group, const std::vector<Node>& nodes, const std::vector<Pod>& pods);

// The whole pass: in-flight requests (adopt, end, time out), drains under way (evict,
// undo after maxGracefulTerminationSeconds, delete once empty), scale-up (or its backoff),
// scale-down (start drains, delete unready nodes), the groups' requests (alerts) and
// sustained pressure (one node more or fewer, through the same limits), Events and each
// group's status.
// `cluster` is taken by value: adopted and timed-out requests are applied to it before
// the planners run, so they see the group as it is after this pass. Pure.
ActuationPlan plan_actuation(ClusterSnapshot cluster, TimePoint now, const ActuationOptions& options);

// Writes a status plan into a NodeGroup's status object (the fields the plan owns; any
// other field is kept). A condition keeps its lastTransitionTime while its status holds.
void apply_status(const GroupStatusPlan& plan, TimePoint now, nlohmann::json& status);

}  // namespace ballast::nodepool
