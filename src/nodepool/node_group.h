#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "nodepool/k8s_types.h"
#include "core/timestamp.h"

namespace ballast::nodepool {

// Nodes belong to a group by this label (CONTRACT.md).
inline constexpr const char* kNodeGroupLabel = "ballast.dev/nodegroup";

// What the kubelet and system daemons keep for themselves when a NodeGroup does not say
// (`spec.reserved`): K3s-like defaults for a small VPS.
inline constexpr int64_t kDefaultReservedCpuMilli = 100;
inline constexpr int64_t kDefaultReservedMemoryBytes = 256LL * 1024 * 1024;

// One VM type a group may order (`spec.offerings[]`).
struct Offering {
  std::string id;
  Resources capacity;  // cpu, memory, maxPods (pods)
  double monthly_price = 0;
};

struct ScaleUpSpec {
  int64_t pod_age_seconds = 5;
  int64_t backoff_seconds = 180;  // after a failed scale-up the group orders nothing this long
  // Set: when the group's requested cpu or memory (over its Ready nodes) stays above this
  // fraction of allocatable, or a node reports pressure, for sustainedSeconds, one node is
  // added ahead of pending pods.
  std::optional<double> utilization_threshold;
  int64_t sustained_seconds = 300;
  // An alert- or pressure-driven node is not ordered within this long of the last scale-up.
  int64_t cooldown_seconds = 300;
};

// An outside request for one node more or one fewer (an Alertmanager alert), handled by
// the next pass through the group's limits.
enum class ScaleDirection { kUp, kDown };
struct ScaleRequest {
  ScaleDirection direction = ScaleDirection::kUp;
  std::string source;  // who asked, for the Event: `alert ClusterCapacityHigh (fingerprint 3f2a...)`
};

struct ScaleDownSpec {
  bool enabled = true;
  double utilization_threshold = 0.5;
  int64_t unneeded_seconds = 600;
  int64_t delay_after_add_seconds = 600;
  int64_t delay_after_failure_seconds = 180;
  int64_t max_graceful_termination_seconds = 600;
  int64_t max_empty_bulk_delete = 10;
  int64_t unready_seconds = 1200;  // a node NotReady this long is removed (cluster-autoscaler: 20 min)
};

// A VM requested from the provider whose Node has not registered yet (`status.inFlight[]`).
struct InFlightNode {
  std::string name;
  std::string offering;  // offering id; empty = the group's first offering
  std::optional<TimePoint> requested_at;
  std::string request_id;   // the idempotency id sent to the provider (a pipeline may echo it on the Node)
  std::string provider_id;  // the provider's id for the VM, once it answered
  std::string node;         // a Node of another name the request adopted (a pipeline names its own nodes)
};

// Per-node memory of the reconciler (`status.nodes[]`).
struct NodeStatusEntry {
  std::string name;
  std::optional<TimePoint> unneeded_since;
  std::string provider_id;  // carried over from the in-flight request the node ended
  std::string offering;
};

struct NodeGroupStatus {
  std::vector<InFlightNode> in_flight;
  std::optional<TimePoint> last_scale_up;            // status.lastScaleUp.time
  std::optional<TimePoint> last_scale_down_failure;  // status.lastScaleDownFailure.time
  std::vector<NodeStatusEntry> nodes;
  std::optional<TimePoint> last_scale_up_failure;  // status.lastScaleUpFailure.time
  std::optional<TimePoint> pressure_since;  // status.pressureSince: above the threshold or under pressure since
};

// A NodeGroup (ballast.dev/v1alpha1): only what the planners read. Provider settings are
// the actuator's business and are not modelled here.
struct NodeGroup {
  std::string name;
  int64_t min_nodes = 0;
  int64_t max_nodes = 0;
  std::vector<Offering> offerings;
  Labels labels;
  std::vector<Taint> taints;
  Resources reserved{kDefaultReservedCpuMilli, kDefaultReservedMemoryBytes, 0};
  int64_t priority = 0;  // expander: higher wins
  ScaleUpSpec scale_up;
  ScaleDownSpec scale_down;
  NodeGroupStatus status;
  std::optional<int64_t> provision_timeout_seconds;  // spec.provisionTimeoutSeconds; unset = the reconciler's default
  std::string preferred_offering;  // spec.preferredOffering: used first whenever it fits
  std::vector<ScaleRequest> requests;  // not part of the object: what the reconciler received since its last pass

  const Offering* find_offering(const std::string& id) const;
};

// A time a delay is later measured from (an order's `requestedAt`, `lastScaleUp`, a
// failure's time, the drain-started annotation), written at `started`: microseconds (as
// metav1.MicroTime), rounded up so the stored time is never before the event and no
// timeout, backoff or cooldown ends early. Whole seconds, written before, are still read.
std::string delay_start_text(TimePoint started);

// A NodeGroup object (as the apiserver returns it) → model. Errors name the object and
// the field: `NodeGroup general: spec.offerings[0].cpu: invalid quantity "x": ...`.
Result<NodeGroup> parse_node_group(const nlohmann::json& object);

}  // namespace ballast::nodepool
