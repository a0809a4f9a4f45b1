#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/timestamp.h"
#include "kube/controller.h"
#include "kube/informer.h"
#include "nodepool/actuation_plan.h"
#include "nodepool/alert_requests.h"
#include "nodepool/node_provider.h"
#include "nodepool/parsed_pods.h"

namespace ballast::nodepool {

struct NodePoolOptions {
  kube::ControllerOptions controller;  // dry-run; a pass every 10 s, 500 ms after a change
  int64_t provision_timeout_seconds = 900;  // when the NodeGroup does not say
  std::string secrets_namespace = "ballast-system";  // Secrets without a namespace (ballast's own)
  // Requests the admin port's POST /v1/alerts recorded; each pass takes them (a replica
  // that does not lead drops them).
  std::shared_ptr<AlertRequestQueue> alert_requests;
};

// Builds the provider a NodeGroup names (spec.provider + its credentials Secret). Called
// on the reconciler's thread; the result is cached per group and provider settings.
using ProviderFactory = std::function<Result<std::unique_ptr<NodeProvider>>(const nlohmann::json& node_group)>;

// The node-pool reconciler: a small cluster autoscaler. Watches Nodes, Pods,
// PodDisruptionBudgets, DaemonSets, PersistentVolumes, PersistentVolumeClaims and
// NodeGroups; each pass hands one snapshot to the pure `plan_actuation()` and, while it
// leads, executes the actions it returns (only Events in dry-run):
// - scale-up: records each VM in the NodeGroup's status.inFlight *before* asking the
//   provider (a deterministic name, so a successor leader finds it instead of ordering a
//   second), drops it once its Node takes pods (a Node of another name registering for the
//   group is adopted), deletes it when no Node registered within provisionTimeout;
// - scale-down: taints (`ballast.dev/to-be-deleted:NoSchedule`) and cordons the node,
//   evicts its pods through the Eviction API pass by pass (429 = retry next pass, 500 =
//   blocked), and when it is empty deletes the VM and the Node; a drain that outlives
//   maxGracefulTerminationSeconds is undone (untaint, uncordon) and the group backs off;
// - a node the plan removes as unready (NotReady for unreadySeconds): no drain, its VM and
//   Node are deleted at once (its kubelet is gone and would never end a pod).
// Every decision that leaves something pending gets an Event and a metric.
//
// Caches, loop and leader gate: kube::Controller; a pass plans at the clock's wall time.
class NodePoolReconciler final : public kube::Controller {
 public:
  NodePoolReconciler(const kube::ControllerContext& context, ProviderFactory providers, NodePoolOptions options);
  ~NodePoolReconciler() override;

  // One plan-and-act pass at wall time `now`; false when a cache is not synced or this
  // replica does not lead.
  bool reconcile_once(TimePoint now);

 private:
  void watch_resources() override;
  bool reconcile_pass() override { return reconcile_once(clock().wall_now()); }
  NodeProvider* provider_for(const nlohmann::json& node_group);
  void scale_up(const nlohmann::json& group_object, const action::ScaleUp& order, TimePoint now, nlohmann::json& status);
  void provision_timeout(const nlohmann::json& group_object, const action::ProvisionTimeout& timeout, TimePoint now,
                         nlohmann::json& status);
  bool start_drain(const nlohmann::json& node, TimePoint now);
  // Untaints and uncordons (when tainted), with a ScaleDownFailed Event and the group's failure.
  void undo_drain(const nlohmann::json& node, const std::string& why, TimePoint now,
                  std::map<std::string, nlohmann::json>& statuses);
  bool evict(const action::Evict& eviction, std::string& failure);
  // Deletes the node's VM at the provider (when its group is known), then the Node object;
  // false (with an Event) when the provider refused.
  bool delete_node(const nlohmann::json& node, const nlohmann::json* group_object, const action::DeleteNode& removal,
                   TimePoint now, std::map<std::string, nlohmann::json>& statuses);
  // A create that failed as unavailable (transport, timeout, 5xx, open breaker) may have
  // been carried out with its answer lost, and the provider could not find the name
  // either: the status.inFlight entry stays, marked `unconfirmed`, so no second VM is
  // ordered for the same need (a successor leader reads the mark too).
  void keep_unconfirmed(const std::string& group, const std::string& name, const std::string& error,
                        nlohmann::json& status);
  // Looks each unconfirmed entry's name up at the provider (once its backoff allows):
  // found → confirmed with the provider's id; not there → dropped as a failed scale-up
  // (the group backs off, then orders anew); lookup failed → kept, backing off. Past the
  // provision timeout the planner's ProvisionTimeout deletes it by name as any other.
  void confirm_orders(const nlohmann::json& group_object, TimePoint now, nlohmann::json& status);
  void failed_scale_up(const std::string& group, const char* reason);
  void failed_scale_down(const std::string& group);
  void record_metrics(const ActuationPlan& plan);
  Result<std::string> user_data(const nlohmann::json& group_object);
  // False when the status could not be written (or this replica no longer leads).
  bool write_status(const std::string& group, const nlohmann::json& before, const nlohmann::json& after);

  const ProviderFactory provider_factory_;
  const NodePoolOptions options_;

  kube::Informer* nodes_ = nullptr;
  kube::Informer* pods_ = nullptr;
  ParsedPods parsed_pods_;  // pods_'s objects, parsed once per change
  kube::Informer* pdbs_ = nullptr;
  kube::Informer* daemonsets_ = nullptr;
  kube::Informer* persistent_volumes_ = nullptr;
  kube::Informer* persistent_volume_claims_ = nullptr;
  kube::Informer* node_groups_ = nullptr;

  // Worker thread only.
  std::map<std::string, std::pair<std::string, std::unique_ptr<NodeProvider>>> providers_;  // group → (settings, provider)
};

}  // namespace ballast::nodepool
