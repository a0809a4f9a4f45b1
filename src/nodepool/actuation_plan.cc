#include "nodepool/actuation_plan.h"

#include <algorithm>
#include <map>
#include <set>


namespace ballast::nodepool {
namespace {

bool draining(const Node& node) {
  return std::any_of(node.taints.begin(), node.taints.end(),
                     [](const Taint& taint) { return taint.key == kToBeDeletedTaint; });
}

std::string annotation(const Labels& annotations, const char* key) {
  const auto it = annotations.find(key);
  return it == annotations.end() ? std::string() : it->second;
}

// Pods a drain must move: bound to the node, not DaemonSet or mirror pods, not finished.
bool must_move(const Pod& pod, const std::string& node) {
  return pod.node_name == node && !pod.terminal() && !pod.mirror && !pod.daemonset();
}

// A PDB selecting the pod that allows no disruption now: the Eviction API refuses the pod.
const PodDisruptionBudget* closed_budget(const ClusterSnapshot& cluster, const Pod& pod) {
  for (const auto& budget : cluster.pdbs) {
    if (budget.ns == pod.ns && budget.disruptions_allowed <= 0 && budget.selector.matches(pod.labels)) return &budget;
  }
  return nullptr;
}

EventSubject group_subject(const std::string& group) { return {"NodeGroup", "", group}; }
EventSubject node_subject(const std::string& node) { return {"Node", "", node}; }

action::Report report(std::string key, EventSubject subject, bool warning, std::string reason, std::string message) {
  return {std::move(key), std::move(subject), warning, std::move(reason), std::move(message)};
}

std::string seconds(int64_t value) { return std::to_string(value) + "s"; }

// The state one pass builds per group before the planners run.
struct GroupPass {
  const NodeGroup* spec = nullptr;
  std::vector<const Node*> nodes;  // registered with the group label
  int64_t ready = 0;
  std::set<std::string> draining;  // group nodes under ballast.dev/to-be-deleted
  std::optional<TimePoint> failed_at;  // the last scale-up failure, this pass's timeouts included
  bool scaled_up = false;
  int64_t requested_up = 0;  // nodes ordered this pass for a request or sustained pressure
  int64_t removing = 0;
  std::map<std::string, std::pair<std::string, std::string>> joined;  // node → (providerId, offering) of its request
};

// Matches in-flight requests to the Nodes that registered for them; ends, keeps or times
// out each request. Rewrites the group's in-flight list as the planners must see it: an
// adopted request carries its Node's name (so it counts as registered), ended and timed-out
// ones are gone.
void plan_in_flight(NodeGroup& group, GroupPass& pass, TimePoint now, const ActuationOptions& options,
                    std::vector<Action>& actions) {
  // Nodes a request names, and nodes the last pass already counted as the group's (one that
  // ended its own request there is no longer named by any).
  std::set<std::string> claimed;
  for (const auto& entry : group.status.in_flight) claimed.insert(entry.node.empty() ? entry.name : entry.node);
  for (const auto& known : group.status.nodes) claimed.insert(known.name);
  // A newcomer is a group node not claimed; it may only be adopted by a request older than
  // itself (below), so a node that was there before the request never is.
  std::vector<const Node*> newcomers;
  for (const Node* node : pass.nodes) {
    if (!claimed.count(node->name) && !pass.draining.count(node->name)) newcomers.push_back(node);
  }
  std::stable_sort(newcomers.begin(), newcomers.end(), [](const Node* a, const Node* b) {
    return a->created.value_or(TimePoint{}) < b->created.value_or(TimePoint{});
  });
  auto registered = [&](const std::string& name) -> const Node* {
    for (const Node* node : pass.nodes) {
      if (node->name == name) return node;
    }
    return nullptr;
  };
  auto adopt = [&](InFlightNode& entry, const Node* node) {
    entry.node = node->name;
    actions.push_back(action::AdoptNode{group.name, entry.name, node->name});
    newcomers.erase(std::find(newcomers.begin(), newcomers.end(), node));
  };
  // A Node echoing a request's id belongs to that request, whatever its age.
  for (auto& entry : group.status.in_flight) {
    if (!entry.node.empty() || registered(entry.name) != nullptr || entry.request_id.empty()) continue;
    for (const Node* node : newcomers) {
      if (annotation(node->annotations, kRequestIdAnnotation) == entry.request_id) {
        adopt(entry, node);
        break;
      }
    }
  }
  // Any other newcomer goes to the oldest request still waiting that it could be for.
  std::vector<InFlightNode*> waiting;
  for (auto& entry : group.status.in_flight) {
    if (entry.node.empty() && registered(entry.name) == nullptr) waiting.push_back(&entry);
  }
  std::stable_sort(waiting.begin(), waiting.end(), [](const InFlightNode* a, const InFlightNode* b) {
    return a->requested_at.value_or(TimePoint{}) < b->requested_at.value_or(TimePoint{});
  });
  for (InFlightNode* entry : waiting) {
    // A node echoing another request's id is not this request's, nor one older than the request.
    // creationTimestamp has whole seconds: a node created in the second of the order is not older.
    const auto node = std::find_if(newcomers.begin(), newcomers.end(), [&](const Node* candidate) {
      return annotation(candidate->annotations, kRequestIdAnnotation).empty() &&
             (!candidate->created || !entry->requested_at ||
              *candidate->created >= std::chrono::floor<std::chrono::seconds>(*entry->requested_at));
    });
    if (node != newcomers.end()) adopt(*entry, *node);
  }

  const int64_t timeout = group.provision_timeout_seconds.value_or(options.provision_timeout_seconds);
  std::vector<InFlightNode> kept;
  std::vector<const InFlightNode*> timed_out;
  for (auto& entry : group.status.in_flight) {
    const std::string node_name = entry.node.empty() ? entry.name : entry.node;
    if (const Node* node = registered(node_name)) {
      if (takes_pods(*node)) {
        actions.push_back(action::EndInFlight{group.name, entry.name, node_name});
        actions.push_back(report("ready|" + node_name, node_subject(node_name), false, "NodeReady",
                                 node_name + " joined NodeGroup " + group.name + " and takes pods"));
        pass.joined[node_name] = {entry.provider_id, entry.offering};
        continue;
      }
      // Joined: no provision timeout any more; a node that never gets Ready is scale-down's
      // unreadySeconds business.
      actions.push_back(report("joined|" + node_name, node_subject(node_name), false, "NodeJoined",
                               node_name + " registered for NodeGroup " + group.name + " (request " + entry.name +
                                   "); waiting for it to take pods"));
      entry.name = node_name;  // the planners see it registered
      kept.push_back(entry);
      continue;
    }
    if (entry.requested_at && now - *entry.requested_at > std::chrono::seconds(timeout)) {
      timed_out.push_back(&entry);
      continue;
    }
    kept.push_back(entry);
  }
  // The provider is told the group's size without the VMs given up: registered + still in flight.
  const int desired = static_cast<int>(pass.nodes.size() + std::count_if(kept.begin(), kept.end(), [&](const auto& e) {
                                         return registered(e.name) == nullptr;
                                       }));
  for (const InFlightNode* entry : timed_out) {
    if (options.dry_run) {
      actions.push_back(report("dry-timeout|" + entry->name, group_subject(group.name), false, "DryRunProvisionTimeout",
                               "ballast would delete " + entry->name + ": not Ready within " + seconds(timeout)));
      continue;
    }
    actions.push_back(action::ProvisionTimeout{group.name, entry->name, entry->provider_id, desired, timeout});
    pass.failed_at = now;
  }
  group.status.in_flight = std::move(kept);
}

// Drains under way continue whatever this pass plans: evict what is left, undo a drain that
// outlived maxGracefulTerminationSeconds, delete the node once it is empty.
void plan_drains(const ClusterSnapshot& cluster, std::map<std::string, GroupPass>& passes, std::map<std::string, int>& sizes,
                 TimePoint now, std::vector<Action>& actions) {
  for (const auto& node : cluster.nodes) {
    if (!draining(node)) continue;
    const std::string group = node.group();
    const auto pass = passes.find(group);
    const int64_t grace = pass != passes.end() ? pass->second.spec->scale_down.max_graceful_termination_seconds
                                               : ScaleDownSpec{}.max_graceful_termination_seconds;
    std::vector<const Pod*> remaining;
    for (const auto& pod : cluster.pods) {
      if (must_move(pod, node.name)) remaining.push_back(&pod);
    }
    if (remaining.empty()) {
      actions.push_back(action::DeleteNode{group, node.name, std::max(0, --sizes[group]), true, "removed " + node.name});
      continue;
    }
    // Evictions the apiserver refuses now (429): said in an Event while the drain waits, and
    // named when it is undone, so a user sees which budget kept the node.
    std::string held;
    for (const Pod* pod : remaining) {
      const PodDisruptionBudget* budget = pod->terminating ? nullptr : closed_budget(cluster, *pod);
      if (budget == nullptr) continue;
      const std::string why = "pod " + pod->ref().str() + " is held by PDB " + budget->ns + "/" + budget->name +
                              " (disruptionsAllowed 0)";
      if (held.empty()) held = why;
      actions.push_back(report("drain-held|" + node.name + "|" + why, node_subject(node.name), true, "DrainWaiting",
                               why + "; the drain is undone after maxGracefulTerminationSeconds " + seconds(grace)));
    }
    const auto started = parse_time(annotation(node.annotations, kDrainStartedAnnotation));
    if (started && now - *started > std::chrono::seconds(grace)) {
      actions.push_back(action::UndoDrain{
          group, node.name, "pods still running after " + seconds(grace) + " of draining" + (held.empty() ? "" : ": " + held)});
      continue;
    }
    for (const Pod* pod : remaining) {
      if (!pod->terminating) actions.push_back(action::Evict{node.name, pod->ref()});
    }
  }
}

std::string scale_up_reason(const OfferingScaleUp& add) {
  std::string reason = std::to_string(add.nodes.size()) + " node(s) for pending pods";
  size_t listed = 0;
  for (const auto& planned : add.nodes) {
    for (const auto& pod : planned.pods) {
      if (listed++ < 5) reason += (listed == 1 ? ": " : ", ") + pod.str();
    }
  }
  return reason;
}

void order_nodes(const std::string& group, const std::string& offering, int64_t count, const std::string& reason,
                 const ActuationOptions& options, std::vector<Action>& actions) {
  if (options.dry_run) {
    actions.push_back(report("dry-up|" + group + "|" + std::to_string(count) + "|" + offering + "|" + reason,
                             group_subject(group), false, "DryRunScaleUp",
                             "ballast would add " + std::to_string(count) + " " + offering + " node(s): " + reason));
    return;
  }
  actions.push_back(action::ScaleUp{group, offering, count, 0, reason});
}

void plan_scale_ups(const ScaleUpPlan& up, std::map<std::string, GroupPass>& passes, TimePoint now,
                    const ActuationOptions& options, std::vector<Action>& actions) {
  for (const auto& pod : up.unplaced) {
    std::string why;
    for (const auto& rejection : pod.rejections) why += (why.empty() ? "" : "; ") + rejection.group + ": " + rejection.message;
    if (why.empty()) why = "no NodeGroup exists";
    actions.push_back(report("unplaced|" + pod.pod.str() + "|" + why, {"Pod", pod.pod.ns, pod.pod.name}, false,
                             "NotTriggerScaleUp", "pod didn't trigger scale-up: " + why));
  }
  for (const auto& group : up.groups) {
    const auto it = passes.find(group.group);
    if (it == passes.end() || group.nodes_to_add() == 0) continue;
    GroupPass& pass = it->second;
    // Like cluster-autoscaler's node group backoff: a group whose last scale-up failed
    // orders nothing until scaleUp.backoffSeconds have passed.
    const int64_t backoff = pass.spec->scale_up.backoff_seconds;
    if (pass.failed_at && now - *pass.failed_at < std::chrono::seconds(backoff)) {
      actions.push_back(report("backoff|" + group.group + "|" + format_time(*pass.failed_at), group_subject(group.group),
                               true, "ScaleUpBackoff",
                               "the last scale-up failed at " + format_time(*pass.failed_at) + "; no new node for " +
                                   seconds(backoff)));
      continue;
    }
    pass.scaled_up = true;
    for (const auto& add : group.add) {
      order_nodes(group.group, add.offering, static_cast<int64_t>(add.nodes.size()), scale_up_reason(add), options,
                  actions);
    }
    if (group.min_nodes_add > 0) {
      order_nodes(group.group, group.min_nodes_offering, group.min_nodes_add, "below minNodes", options, actions);
    }
  }
}

void plan_scale_downs(const ClusterSnapshot& cluster, const ScaleDownPlan& down, std::map<std::string, GroupPass>& passes,
                      std::map<std::string, int>& sizes, const ActuationOptions& options, std::vector<Action>& actions) {
  auto find_node = [&](const std::string& name) -> const Node* {
    for (const auto& node : cluster.nodes) {
      if (node.name == name) return &node;
    }
    return nullptr;
  };
  for (const auto& group : down.groups) {
    const auto it = passes.find(group.group);
    if (it == passes.end()) continue;
    for (const auto& node : group.nodes) {
      if (node.state == NodeState::kBlocked) {
        actions.push_back(report("blocked|" + node.node + "|" + node.blockers.front().message, node_subject(node.node),
                                 false, "ScaleDownBlocked", node.blockers.front().message));
      }
    }
    std::set<std::string> removed_unready;
    for (const auto& planned : group.nodes) {
      if (planned.state != NodeState::kRemove || !planned.not_ready_since) continue;
      removed_unready.insert(planned.node);
      // Unready for unreadySeconds: nothing to drain (the kubelet is gone), delete the VM so
      // a dead VPS stops being billed, then the Node (its pods are then collected). A drain
      // already under way owns the node until it ends (or times out and is undone).
      const Node* node = find_node(planned.node);
      if (node == nullptr || draining(*node)) continue;
      const std::string since = format_time(*planned.not_ready_since);
      ++it->second.removing;
      if (options.dry_run) {
        actions.push_back(report("dry-down|" + planned.node, node_subject(planned.node), false, "DryRunScaleDown",
                                 "ballast would delete " + planned.node + " and its VM: not Ready since " + since));
        continue;
      }
      actions.push_back(action::DeleteNode{group.group, planned.node, std::max(0, --sizes[group.group]), false,
                                           "removed " + planned.node + ": not Ready since " + since});
    }
    for (const auto& name : group.remove) {
      const Node* node = find_node(name);
      if (node == nullptr || draining(*node) || removed_unready.count(name)) continue;
      ++it->second.removing;
      if (options.dry_run) {
        actions.push_back(report("dry-down|" + name, node_subject(name), false, "DryRunScaleDown",
                                 "ballast would drain and remove " + name));
        continue;
      }
      actions.push_back(action::StartDrain{group.group, name});
    }
  }
}

std::string percent(double fraction) { return std::to_string(static_cast<int>(fraction * 100 + 0.5)) + "%"; }

bool backing_off(const NodeGroup& group, const GroupPass& pass, TimePoint now) {
  return pass.failed_at && now - *pass.failed_at < std::chrono::seconds(group.scale_up.backoff_seconds);
}

// Why one node more may not be ordered for a request or for pressure now; empty: it may.
std::string extra_node_gate(const NodeGroup& group, const GroupPass& pass, TimePoint now) {
  if (pass.scaled_up) return "nodes are already being added for pending pods or minNodes";
  if (!group.status.in_flight.empty()) {
    return std::to_string(group.status.in_flight.size()) + " node(s) still in flight";
  }
  if (static_cast<int64_t>(pass.nodes.size()) >= group.max_nodes) {
    return "the group is at maxNodes " + std::to_string(group.max_nodes);
  }
  if (group.offerings.empty()) return "the group has no offering";
  if (backing_off(group, pass, now)) {
    return "the last scale-up failed at " + format_time(*pass.failed_at) + " (backoffSeconds " +
           std::to_string(group.scale_up.backoff_seconds) + ")";
  }
  const auto& last = group.status.last_scale_up;
  if (last && now - *last < std::chrono::seconds(group.scale_up.cooldown_seconds)) {
    return "the last scale-up was at " + format_time(*last) + " (cooldownSeconds " +
           std::to_string(group.scale_up.cooldown_seconds) + ")";
  }
  return {};
}

// Scale-up requests (alerts) and sustained pressure: one node more, through the same gates.
// Records each group's pressure clock in `pressure_since`.
void plan_requested_nodes(const ClusterSnapshot& cluster, std::map<std::string, GroupPass>& passes, TimePoint now,
                          const ActuationOptions& options, std::vector<Action>& actions,
                          std::map<std::string, std::optional<TimePoint>>& pressure_since) {
  for (const auto& group : cluster.node_groups) {
    GroupPass& pass = passes[group.name];
    const std::string pressure = group_pressure(group, cluster.nodes, cluster.pods);
    std::optional<TimePoint> since;
    if (!pressure.empty()) since = group.status.pressure_since.value_or(now);
    pressure_since[group.name] = since;
    const bool sustained =
        since && now - *since >= std::chrono::seconds(group.scale_up.sustained_seconds);
    std::vector<const ScaleRequest*> ups;
    for (const auto& request : group.requests) {
      if (request.direction == ScaleDirection::kUp) ups.push_back(&request);
    }
    if (ups.empty() && !sustained) continue;
    const std::string gate = extra_node_gate(group, pass, now);
    std::string reason = sustained ? pressure + " since " + format_time(*since) : "asked by " + ups.front()->source;
    if (gate.empty()) {
      pass.scaled_up = true;
      pass.requested_up = 1;
      order_nodes(group.name, group.offerings.front().id, 1, reason, options, actions);
    } else if (sustained) {
      actions.push_back(report("pressure-wait|" + group.name + "|" + gate, group_subject(group.name), false,
                               "PressureScaleUpWaiting", "no node added for " + reason + ": " + gate));
    }
    for (const ScaleRequest* request : ups) {
      actions.push_back(report("", group_subject(group.name), false,
                               gate.empty() ? "ScaleUpRequested" : "ScaleUpRequestRefused",
                               gate.empty() ? "adding one node, " + reason
                                            : "no node added for " + request->source + ": " + gate));
    }
  }
}

// Node-level blockers a request may override: it asks for the removal now, not after
// unneededSeconds, and it is the only removal it adds.
bool request_overrides(BlockReason reason) {
  return reason == BlockReason::kUnneededTooShort || reason == BlockReason::kNonEmptyLimit ||
         reason == BlockReason::kEmptyBulkLimit;
}

// Why one node fewer may not be removed for a request now, or the node to drain: the
// emptiest one scale-down found safe to drain (its pods fit elsewhere, no PDB, opt-out,
// minNodes or group gate forbids it).
std::pair<std::string, const NodeScaleDown*> removal_for_request(const NodeGroup& group, const GroupPass& pass,
                                                                 const GroupScaleDown* down) {
  if (!pass.draining.empty() || pass.removing > 0) return {"a node of the group is already being removed", nullptr};
  if (pass.scaled_up || !group.status.in_flight.empty()) return {"the group is scaling up", nullptr};
  if (down == nullptr) return {"the group has no node", nullptr};
  const NodeScaleDown* best = nullptr;
  std::string refusal;
  for (const auto& node : down->nodes) {
    if (node.state != NodeState::kUnneeded || node.not_ready_since) continue;
    const auto binding = std::find_if(node.blockers.begin(), node.blockers.end(),
                                      [](const Blocker& blocker) { return !request_overrides(blocker.reason); });
    if (binding != node.blockers.end()) {
      if (refusal.empty()) refusal = node.node + ": " + binding->message;
      continue;
    }
    if (best == nullptr || (node.empty && !best->empty) ||
        (node.empty == best->empty && node.utilization < best->utilization)) {
      best = &node;
    }
  }
  if (best != nullptr) return {{}, best};
  if (refusal.empty()) {
    refusal = "no node can be drained safely (each is above scaleDown.utilizationThreshold or blocked)";
  }
  return {refusal, nullptr};
}

void plan_requested_removals(const ClusterSnapshot& cluster, const ScaleDownPlan& down,
                             std::map<std::string, GroupPass>& passes, const ActuationOptions& options,
                             std::vector<Action>& actions) {
  for (const auto& group : cluster.node_groups) {
    GroupPass& pass = passes[group.name];
    for (const auto& request : group.requests) {
      if (request.direction != ScaleDirection::kDown) continue;
      const auto [refusal, node] = removal_for_request(group, pass, down.find(group.name));
      if (node == nullptr) {
        actions.push_back(report("", group_subject(group.name), false, "ScaleDownRequestRefused",
                                 "no node removed for " + request.source + ": " + refusal));
        continue;
      }
      ++pass.removing;
      actions.push_back(report("", group_subject(group.name), false, "ScaleDownRequested",
                               "draining " + node->node + " (utilization " + percent(node->utilization) +
                                   "), asked by " + request.source));
      if (options.dry_run) {
        actions.push_back(report("dry-down|" + node->node, node_subject(node->node), false, "DryRunScaleDown",
                                 "ballast would drain and remove " + node->node));
        continue;
      }
      actions.push_back(action::StartDrain{group.name, node->node});
    }
  }
}

std::vector<GroupCondition> conditions(const NodeGroup& group, const GroupPass& pass, int64_t in_flight, TimePoint now) {
  std::vector<GroupCondition> out;
  const bool ready = pass.ready >= group.min_nodes;
  out.push_back({"Ready", ready, ready ? "MinNodesReady" : "BelowMinNodes",
                 std::to_string(pass.ready) + " of " + std::to_string(pass.nodes.size()) +
                     " nodes take pods (minNodes " + std::to_string(group.min_nodes) + ")"});
  if (pass.scaled_up) {
    out.push_back({"ScalingUp", true, "NodesOrdered", "new nodes ordered for pending pods, minNodes, a request or pressure"});
  } else if (in_flight > 0) {
    out.push_back({"ScalingUp", true, "NodesInFlight", std::to_string(in_flight) + " node(s) ordered, not taking pods yet"});
  } else {
    out.push_back({"ScalingUp", false, "NoScaleUp", "no node ordered or in flight"});
  }
  const int64_t down = static_cast<int64_t>(pass.draining.size()) + pass.removing;
  out.push_back({"ScalingDown", down > 0, down > 0 ? "RemovingNodes" : "NoScaleDown",
                 down > 0 ? std::to_string(down) + " node(s) draining or being removed" : "no node is being removed"});
  const bool backoff = backing_off(group, pass, now);
  out.push_back({"Backoff", backoff, backoff ? "ScaleUpFailed" : "NoRecentFailure",
                 backoff ? "the last scale-up failed at " + format_time(*pass.failed_at) + "; no new node for " +
                                   seconds(group.scale_up.backoff_seconds)
                             : "scale-up is allowed"});
  return out;
}

nlohmann::json node_rows(const GroupScaleDown* down, const GroupPass& pass, const NodeGroup& group) {
  nlohmann::json rows = nlohmann::json::array();
  if (down == nullptr) return rows;
  for (const auto& node : down->nodes) {
    nlohmann::json row = {{"name", node.node},
                          {"state", node_state_code(node.state)},
                          {"utilization", static_cast<int>(node.utilization * 100) / 100.0}};
    if (node.unneeded_since) row["unneededSince"] = format_time(*node.unneeded_since);
    if (!node.blockers.empty()) row["reason"] = node.blockers.front().message;
    std::string provider_id;
    std::string offering;
    if (const auto joined = pass.joined.find(node.node); joined != pass.joined.end()) {
      std::tie(provider_id, offering) = joined->second;
    }
    for (const auto& previous : group.status.nodes) {
      if (previous.name != node.node) continue;
      if (provider_id.empty()) provider_id = previous.provider_id;
      if (offering.empty()) offering = previous.offering;
    }
    if (!provider_id.empty()) row["providerId"] = provider_id;
    if (!offering.empty()) row["offering"] = offering;
    for (const Node* registered : pass.nodes) {
      if (registered->name == node.node && registered->created) row["created"] = format_time(*registered->created);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The earliest of the times offered that is still after `now`.
class EarliestAfter {
 public:
  explicit EarliestAfter(TimePoint now) : now_(now) {}
  void offer(std::optional<TimePoint> at) {
    if (at && *at > now_ && (!earliest_ || *at < *earliest_)) earliest_ = at;
  }
  std::optional<TimePoint> earliest() const { return earliest_; }

 private:
  const TimePoint now_;
  std::optional<TimePoint> earliest_;
};

std::optional<TimePoint> plus(std::optional<TimePoint> since, int64_t seconds) {
  if (!since) return std::nullopt;
  return *since + std::chrono::seconds(seconds);
}

// When the timers this pass found running end (see ActuationPlan::next_due). A timer
// tested with `>` ends a tick after its length.
std::optional<TimePoint> next_due(const ClusterSnapshot& cluster, const ActuationPlan& plan,
                                  const std::map<std::string, GroupPass>& passes,
                                  const std::map<std::string, std::optional<TimePoint>>& pressure_since, TimePoint now,
                                  const ActuationOptions& options) {
  constexpr auto kTick = std::chrono::milliseconds(1);
  EarliestAfter due(now);
  for (const auto& group : cluster.node_groups) {
    const int64_t timeout = group.provision_timeout_seconds.value_or(options.provision_timeout_seconds);
    for (const auto& entry : group.status.in_flight) {
      if (entry.requested_at) due.offer(*entry.requested_at + std::chrono::seconds(timeout) + kTick);
    }
    const auto pass = passes.find(group.name);
    if (pass != passes.end()) due.offer(plus(pass->second.failed_at, group.scale_up.backoff_seconds));
    due.offer(plus(group.status.last_scale_up, group.scale_up.cooldown_seconds));
    due.offer(plus(group.status.last_scale_up, group.scale_down.delay_after_add_seconds));
    due.offer(plus(group.status.last_scale_down_failure, group.scale_down.delay_after_failure_seconds));
    if (const auto since = pressure_since.find(group.name); since != pressure_since.end()) {
      due.offer(plus(since->second, group.scale_up.sustained_seconds));
    }
    for (const auto& pod : cluster.pods) {
      if (pod.node_name.empty() && !pod.terminal()) due.offer(plus(pod.unschedulable_since, group.scale_up.pod_age_seconds));
    }
    if (const GroupScaleDown* down = plan.down.find(group.name)) {
      for (const auto& node : down->nodes) {
        due.offer(plus(node.unneeded_since, group.scale_down.unneeded_seconds));
        due.offer(plus(node.not_ready_since, group.scale_down.unready_seconds));
      }
    }
  }
  for (const auto& node : cluster.nodes) {
    if (!draining(node)) continue;
    const auto pass = passes.find(node.group());
    const int64_t grace = pass != passes.end() ? pass->second.spec->scale_down.max_graceful_termination_seconds
                                               : ScaleDownSpec{}.max_graceful_termination_seconds;
    const auto started = parse_time(annotation(node.annotations, kDrainStartedAnnotation));
    if (started) due.offer(*started + std::chrono::seconds(grace) + kTick);
  }
  return due.earliest();
}

}  // namespace

bool takes_pods(const Node& node) {
  return node.ready && !node.starting;
}

std::string group_pressure(const NodeGroup& group, const std::vector<Node>& nodes, const std::vector<Pod>& pods) {
  Resources allocatable;
  Resources requested;
  std::set<std::string> ready;
  for (const auto& node : nodes) {
    if (node.group() != group.name) continue;
    if (!node.pressure.empty()) return node.name + " reports " + node.pressure.front();
    if (!takes_pods(node)) continue;
    ready.insert(node.name);
    allocatable += node.allocatable;
  }
  if (!group.scale_up.utilization_threshold || ready.empty()) return {};
  for (const auto& pod : pods) {
    if (!pod.terminal() && ready.count(pod.node_name)) requested += pod.spec.requests;
  }
  const double threshold = *group.scale_up.utilization_threshold;
  auto above = [&](const char* resource, int64_t used, int64_t total) -> std::string {
    if (total <= 0) return {};
    const double fraction = static_cast<double>(used) / static_cast<double>(total);
    if (fraction <= threshold) return {};
    return std::string("requested ") + resource + " at " + percent(fraction) + " of allocatable (utilizationThreshold " +
           percent(threshold) + ")";
  };
  const std::string cpu = above("cpu", requested.cpu_milli, allocatable.cpu_milli);
  return cpu.empty() ? above("memory", requested.memory_bytes, allocatable.memory_bytes) : cpu;
}

ActuationPlan plan_actuation(ClusterSnapshot cluster, TimePoint now, const ActuationOptions& options) {
  ActuationPlan plan;
  std::map<std::string, GroupPass> passes;
  for (const auto& group : cluster.node_groups) passes[group.name].spec = &group;
  std::map<std::string, int> registered;  // every labelled node, NodeGroup or not
  for (const auto& node : cluster.nodes) {
    const std::string group = node.group();
    if (group.empty()) continue;
    ++registered[group];
    const auto it = passes.find(group);
    if (it == passes.end()) continue;
    it->second.nodes.push_back(&node);
    if (takes_pods(node)) ++it->second.ready;
    if (draining(node)) it->second.draining.insert(node.name);
  }
  // The size a provider is told after each removal: registered + still in flight.
  std::map<std::string, int> sizes = registered;
  for (auto& group : cluster.node_groups) {
    GroupPass& pass = passes[group.name];
    pass.failed_at = group.status.last_scale_up_failure;
    plan_in_flight(group, pass, now, options, plan.actions);
    for (const auto& entry : group.status.in_flight) {
      const bool joined = std::any_of(pass.nodes.begin(), pass.nodes.end(),
                                      [&](const Node* node) { return node->name == entry.name; });
      if (!joined) ++sizes[group.name];
    }
  }
  if (!options.dry_run) plan_drains(cluster, passes, sizes, now, plan.actions);

  // A node that registered for a request but does not take pods yet is planned as the
  // capacity it is about to be (cluster-autoscaler's upcoming node): otherwise the pods it
  // was ordered for fit nowhere and a second VM is ordered. Scale-down sees it as it is.
  std::vector<Node*> upcoming;
  for (const auto& group : cluster.node_groups) {
    for (const auto& entry : group.status.in_flight) {
      for (auto& node : cluster.nodes) {
        if (node.name == entry.name && !node.ready) upcoming.push_back(&node);
      }
    }
  }
  for (Node* node : upcoming) node->ready = true;
  plan.up = plan_scale_up(cluster, now);
  for (Node* node : upcoming) node->ready = false;
  plan_scale_ups(plan.up, passes, now, options, plan.actions);
  std::map<std::string, std::optional<TimePoint>> pressure_since;
  plan_requested_nodes(cluster, passes, now, options, plan.actions, pressure_since);

  ScaleDownOptions down_options;
  for (const auto& group : plan.up.groups) {
    if (group.nodes_to_add() > 0) down_options.groups_scaling_up.insert(group.group);
  }
  for (const auto& [name, pass] : passes) {
    if (pass.requested_up > 0) down_options.groups_scaling_up.insert(name);
  }
  down_options.pending_placements = plan.up.fits_existing;
  plan.down = plan_scale_down(cluster, now, down_options);
  plan_scale_downs(cluster, plan.down, passes, sizes, options, plan.actions);
  plan_requested_removals(cluster, plan.down, passes, options, plan.actions);

  std::map<std::string, int64_t> unschedulable;
  for (const auto& pod : plan.up.unplaced) {
    std::set<std::string> groups;
    for (const auto& rejection : pod.rejections) groups.insert(rejection.group);
    for (const auto& group : groups) ++unschedulable[group];
  }
  for (const auto& group : cluster.node_groups) {
    const GroupPass& pass = passes[group.name];
    const GroupScaleUp* up = plan.up.find(group.name);
    GroupStatusPlan status;
    status.group = group.name;
    status.current_nodes = static_cast<int64_t>(pass.nodes.size());
    status.ready_nodes = pass.ready;
    status.in_flight = up != nullptr ? up->in_flight : 0;
    const int64_t adding = (pass.scaled_up && up != nullptr ? up->nodes_to_add() : 0) + pass.requested_up;
    if (up != nullptr) {
      for (const auto& add : up->add) {
        for (const auto& node : add.nodes) status.unschedulable_pods += static_cast<int64_t>(node.pods.size());
      }
    }
    status.unschedulable_pods += unschedulable[group.name];
    status.desired_nodes = status.current_nodes + status.in_flight + adding -
                           static_cast<int64_t>(pass.draining.size()) - pass.removing;
    status.conditions = conditions(group, pass, status.in_flight, now);
    status.nodes = node_rows(plan.down.find(group.name), pass, group);
    status.pressure_since = pressure_since[group.name];
    plan.statuses.push_back(std::move(status));
  }
  plan.next_due = next_due(cluster, plan, passes, pressure_since, now, options);
  // A scale-up orders towards the size this pass plans for the group.
  for (auto& planned : plan.actions) {
    if (auto* up = std::get_if<action::ScaleUp>(&planned)) {
      for (const auto& status : plan.statuses) {
        if (status.group == up->group) up->desired = static_cast<int>(status.desired_nodes);
      }
    }
  }
  return plan;
}

void apply_status(const GroupStatusPlan& plan, TimePoint now, nlohmann::json& status) {
  using nlohmann::json;
  status["currentNodes"] = plan.current_nodes;
  status["readyNodes"] = plan.ready_nodes;
  status["desiredNodes"] = plan.desired_nodes;
  status["pendingPods"] = plan.unschedulable_pods;
  status["nodes"] = plan.nodes;
  if (plan.pressure_since) {
    status["pressureSince"] = format_time(*plan.pressure_since);
  } else {
    status.erase("pressureSince");
  }
  const json previous = status.value("conditions", json::array());
  json conditions = json::array();
  for (const auto& condition : plan.conditions) {
    const std::string value = condition.status ? "True" : "False";
    std::string since = format_time(now);
    for (const auto& old : previous) {
      if (old.is_object() && old.value("type", "") == condition.type && old.value("status", "") == value) {
        since = old.value("lastTransitionTime", since);
      }
    }
    conditions.push_back({{"type", condition.type},
                          {"status", value},
                          {"reason", condition.reason},
                          {"message", condition.message},
                          {"lastTransitionTime", since}});
  }
  status["conditions"] = std::move(conditions);
}

}  // namespace ballast::nodepool
