#include "nodepool/scale_down_planner.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <sstream>
#include <unordered_map>

namespace ballast::nodepool {

const char* block_code(BlockReason reason) {
  switch (reason) {
    case BlockReason::kScaleDownDisabled: return "scale-down-disabled";
    case BlockReason::kDelayAfterAdd: return "delay-after-add";
    case BlockReason::kDelayAfterFailure: return "delay-after-failure";
    case BlockReason::kScaleUpPlanned: return "scale-up-planned";
    case BlockReason::kMinNodes: return "min-nodes";
    case BlockReason::kNodeScaleDownDisabled: return "node-scale-down-disabled";
    case BlockReason::kNodeDoNotDisrupt: return "node-do-not-disrupt";
    case BlockReason::kNodeNotReady: return "node-not-ready";
    case BlockReason::kTooManyUnready: return "too-many-unready";
    case BlockReason::kUnneededTooShort: return "unneeded-too-short";
    case BlockReason::kNonEmptyLimit: return "non-empty-limit";
    case BlockReason::kEmptyBulkLimit: return "empty-bulk-limit";
    case BlockReason::kPdb: return "pdb";
    case BlockReason::kBarePod: return "bare-pod";
    case BlockReason::kLocalStorage: return "local-storage";
    case BlockReason::kKubeSystemNoPdb: return "kube-system-no-pdb";
    case BlockReason::kSafeToEvictFalse: return "safe-to-evict-false";
    case BlockReason::kPodDoNotDisrupt: return "pod-do-not-disrupt";
    case BlockReason::kNoPlaceToMove: return "no-place-to-move";
    case BlockReason::kNodeBoundVolume: return "node-bound-volume";
    case BlockReason::kUnknownVolume: return "unknown-volume";
  }
  return "unknown";
}

const char* node_state_code(NodeState state) {
  switch (state) {
    case NodeState::kRemove: return "remove";
    case NodeState::kUnneeded: return "unneeded";
    case NodeState::kNeeded: return "needed";
    case NodeState::kBlocked: return "blocked";
  }
  return "unknown";
}

const GroupScaleDown* ScaleDownPlan::find(const std::string& group) const {
  for (const auto& g : groups) {
    if (g.group == group) return &g;
  }
  return nullptr;
}

namespace {

using std::chrono::seconds;

bool annotation_is(const Labels& annotations, const char* key, const char* value) {
  const auto it = annotations.find(key);
  return it != annotations.end() && it->second == value;
}

std::string seconds_text(int64_t s) { return std::to_string(s) + "s"; }

// Pods that move when the node goes: not DaemonSet, not mirror, not finished or leaving.
bool movable(const Pod& pod) { return !pod.daemonset() && !pod.mirror && !pod.terminal() && !pod.terminating; }

// A pod to move and the spec to simulate it with (its own, or a copy carrying its
// PersistentVolumes' node affinity).
struct PodToMove {
  const Pod* pod;
  const PodSchedulingSpec* spec;
};

struct Candidate {
  size_t group;      // index into plan.groups
  size_t node;       // index into plan.groups[group].nodes
  size_t sim;        // index into the simulation nodes
  std::vector<PodToMove> pods;  // movable pods
  bool unready = false;  // unready for unreadySeconds: removed without a simulation
};

// Where a pod's volumes let it go.
class Volumes {
 public:
  explicit Volumes(const ClusterSnapshot& cluster) : nodes_(cluster.nodes), index_(cluster) {}

  // Blocks `pod` on `node` when one of its volumes cannot follow it (node-bound or not in
  // the snapshot); otherwise adds each bound PV's node affinity to `spec`. Like
  // kube-scheduler's VolumeBinding: an unbound claim constrains nothing (it is provisioned
  // where the pod lands); a claim or PV the snapshot lacks fails the pod.
  void resolve(const Pod& pod, const Node& node, PodSchedulingSpec& spec, std::vector<Blocker>& out) const {
    const std::string ref = pod.ref().str();
    for (const auto& c : pod.claims) {
      const ClaimVolume found = index_.find(pod.ns, c);
      if (found.state == ClaimVolume::State::kUnbound) continue;
      if (found.state == ClaimVolume::State::kUnknown) {
        out.push_back({BlockReason::kUnknownVolume, ref, "",
                       "pod " + ref + " uses volume " + c.volume + ": " + found.missing + " is not in the snapshot"});
        continue;
      }
      const PersistentVolume* pv = found.pv;
      if (pv->node_affinity.empty()) continue;  // network storage: any node
      const bool elsewhere = std::any_of(nodes_.begin(), nodes_.end(), [&](const Node& other) {
        return other.name != node.name &&
               std::any_of(pv->node_affinity.begin(), pv->node_affinity.end(), [&](const NodeSelectorTerm& term) {
                 return node_selector_term_matches(term, other.labels, other.name);
               });
      });
      if (!elsewhere) {
        out.push_back({BlockReason::kNodeBoundVolume, ref, "",
                       "pod " + ref + " uses volume " + c.volume + " (PersistentVolume " + pv->name +
                           (pv->source.empty() ? "" : ", " + pv->source) + ") that only node " + node.name +
                           " can reach: the pod cannot move"});
        continue;
      }
      spec.volume_affinity.push_back(pv->node_affinity);
    }
  }

 private:
  const std::vector<Node>& nodes_;
  const VolumeIndex index_;
};

class Simulation {
 public:
  Simulation(const ClusterSnapshot& cluster) {
    for (const auto& node : cluster.nodes) {
      index_.emplace(node.name, nodes_.size());
      nodes_.push_back({{node.name, &node.labels, &node.taints, node.unschedulable}, node.allocatable, {}});
      topology_.add_node(&node.labels, &node.taints, node.name);
      usable_.push_back(node.ready);
      removing_.push_back(false);
      candidate_.push_back(false);
    }
    for (const auto& pod : cluster.pods) {
      if (pod.node_name.empty() || pod.terminal()) continue;
      const auto it = index_.find(pod.node_name);
      if (it == index_.end()) continue;
      nodes_[it->second].used += pod.spec.requests;
      add_pod(it->second, pod);
    }
  }

  std::optional<size_t> find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? std::nullopt : std::optional<size_t>(it->second);
  }
  const SimNode& node(size_t i) const { return nodes_[i]; }
  // A pending pod the scale-up places on node i: it takes room there and counts for the
  // inter-pod rules.
  void add_pending(size_t i, const Pod& pod) {
    nodes_[i].used += pod.spec.requests;
    add_pod(i, pod);
  }
  void mark_candidate(size_t i) { candidate_[i] = true; }
  void mark_removing(size_t i) {
    removing_[i] = true;
    topology_.hide(i);
  }

  // Destinations: ready, not being removed, not `self`; nodes that are not themselves
  // scale-down candidates first, so candidates stay empty where possible.
  void order_destinations() {
    std::vector<size_t> order;
    for (size_t pass = 0; pass < 2; ++pass) {
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (usable_[i] && candidate_[i] == (pass == 1)) order.push_back(i);
      }
    }
    feasible_ = std::make_unique<FeasibleNodes>(nodes_, std::move(order));
  }

  // Places every pod on some other node; on success the placements stay applied (undo
  // with revert()), on failure nothing stays and `failed` names the pod and why.
  bool place(const std::vector<PodToMove>& pods, size_t self, std::vector<PodMove>& moves,
             std::vector<std::pair<size_t, Resources>>& applied, std::string& failed_pod, std::string& why) {
    for (const auto& [pod, spec] : pods) {
      std::map<FitFailure, int> failures;
      bool placed = false;
      const auto& feasible = feasible_->for_pod(*spec);
      for (size_t i : feasible) {
        if (i == self || removing_[i]) continue;
        FitResult fit = check_resources(pod->spec.requests, nodes_[i].free());
        if (fit.ok()) fit = topology_.check(*pod, i, self);
        if (fit.ok()) {
          nodes_[i].used += pod->spec.requests;
          add_pod(i, *pod);
          applied.emplace_back(i, pod->spec.requests);
          moves.push_back({pod->ref(), nodes_[i].shape.name});
          placed = true;
          break;
        }
        ++failures[fit.failure];
      }
      if (!placed) {
        revert(applied);
        moves.clear();
        failed_pod = pod->ref().str();
        std::ostringstream out;
        out << "pod " << failed_pod << " fits no remaining node";
        if (feasible.empty()) {
          out << (spec->volume_affinity.empty()
                      ? " (no node matches its selectors and tolerations)"
                      : " (no node matches its selectors, tolerations and volumes' node affinity)");
        }
        const char* sep = " (";
        for (const auto& [failure, count] : failures) {
          out << sep << count << " " << fit_failure_code(failure);
          sep = ", ";
        }
        if (!failures.empty()) out << ")";
        why = out.str();
        return false;
      }
    }
    return true;
  }

  void revert(std::vector<std::pair<size_t, Resources>>& applied) {
    for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
      const auto& [i, r] = *it;
      nodes_[i].used -= r;
      topology_.unplace(i);  // undone newest first: each is the last pod placed on its node
    }
    applied.clear();
  }

 private:
  void add_pod(size_t i, const Pod& pod) { topology_.place(i, pod); }

  PodTopology topology_;  // where pods run, for affinity, anti-affinity and spread
  std::vector<SimNode> nodes_;
  std::vector<bool> usable_;
  std::vector<bool> removing_;
  std::vector<bool> candidate_;
  std::unique_ptr<FeasibleNodes> feasible_;
  std::unordered_map<std::string, size_t> index_;
};

// A pod's explicit "leave me alone": Karpenter's do-not-disrupt, CA's safe-to-evict=false.
void opt_out_blockers(const Pod& pod, std::vector<Blocker>& out) {
  const std::string ref = pod.ref().str();
  if (annotation_is(pod.annotations, kDoNotDisruptAnnotation, "true")) {
    out.push_back({BlockReason::kPodDoNotDisrupt, ref, "",
                   "pod " + ref + " has " + kDoNotDisruptAnnotation + ": \"true\""});
  }
  if (annotation_is(pod.annotations, kSafeToEvictAnnotation, "false")) {
    out.push_back({BlockReason::kSafeToEvictFalse, ref, "",
                   "pod " + ref + " has " + kSafeToEvictAnnotation + ": \"false\""});
  }
}

// Pod-level blockers (CA's drain rules plus Karpenter's do-not-disrupt).
void pod_blockers(const Pod& pod, const std::vector<const PodDisruptionBudget*>& pdbs, std::vector<Blocker>& out) {
  const std::string ref = pod.ref().str();
  opt_out_blockers(pod, out);
  const bool safe_to_evict = annotation_is(pod.annotations, kSafeToEvictAnnotation, "true");
  if (!safe_to_evict) {
    if (pod.controller_kind.empty()) {
      out.push_back({BlockReason::kBarePod, ref, "", "pod " + ref + " has no controller (bare pod)"});
    }
    if (!pod.local_volumes.empty()) {
      std::vector<std::string> allowed;
      if (const auto it = pod.annotations.find(kSafeToEvictLocalVolumesAnnotation); it != pod.annotations.end()) {
        std::stringstream list(it->second);
        for (std::string v; std::getline(list, v, ',');) allowed.push_back(v);
      }
      for (const auto& v : pod.local_volumes) {
        if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
          out.push_back({BlockReason::kLocalStorage, ref, "",
                         "pod " + ref + " uses local storage (volume " + v + ")"});
          break;
        }
      }
    }
    if (pod.ns == "kube-system" && pdbs.empty()) {
      out.push_back({BlockReason::kKubeSystemNoPdb, ref, "", "kube-system pod " + ref + " has no PDB"});
    }
  }
}

// Node-level blockers from the node's annotations.
void node_blockers(const Node& node, std::vector<Blocker>& out) {
  if (annotation_is(node.annotations, kScaleDownDisabledAnnotation, "true")) {
    out.push_back({BlockReason::kNodeScaleDownDisabled, "", "",
                   std::string("node has ") + kScaleDownDisabledAnnotation + ": \"true\""});
  }
  if (annotation_is(node.annotations, kDoNotDisruptAnnotation, "true")) {
    out.push_back({BlockReason::kNodeDoNotDisrupt, "", "",
                   std::string("node has ") + kDoNotDisruptAnnotation + ": \"true\""});
  }
}

// cluster-autoscaler's --max-total-unready-percentage (45) and --ok-total-unready-count (3):
// with more nodes unready than both, the trouble is likely the control plane's view (a
// partition), not the nodes, and no unready node is removed.
std::optional<std::string> too_many_unready(const std::vector<Node>& nodes) {
  const auto unready = std::count_if(nodes.begin(), nodes.end(), [](const Node& n) { return !n.ready; });
  if (unready <= 3 || double(unready) <= 0.45 * double(nodes.size())) return std::nullopt;
  return std::to_string(unready) + " of " + std::to_string(nodes.size()) +
         " nodes are not Ready (more than 3 and more than 45 %): no unready node is removed";
}

}  // namespace

ScaleDownPlan plan_scale_down(const ClusterSnapshot& cluster, TimePoint now, const ScaleDownOptions& options) {
  ScaleDownPlan plan;
  Simulation sim(cluster);
  const Volumes volumes(cluster);
  const auto unready_halt = too_many_unready(cluster.nodes);
  std::deque<PodSchedulingSpec> volume_specs;  // pods' specs with their PVs' node affinity

  std::unordered_map<std::string, std::vector<const Pod*>> pods_on;
  for (const auto& pod : cluster.pods) {
    if (!pod.node_name.empty() && !pod.terminal()) pods_on[pod.node_name].push_back(&pod);
  }
  if (!options.pending_placements.empty()) {
    std::map<PodRef, const Pod*> pending;
    for (const auto& pod : cluster.pods) {
      if (pod.node_name.empty()) pending.emplace(pod.ref(), &pod);
    }
    for (const auto& placement : options.pending_placements) {
      const auto pod = pending.find(placement.pod);
      const auto node = sim.find(placement.node);
      if (placement.in_flight || pod == pending.end() || !node) continue;
      pods_on[placement.node].push_back(pod->second);
      sim.add_pending(*node, *pod->second);
    }
  }
  std::unordered_map<std::string, std::vector<const PodDisruptionBudget*>> pdbs_in;
  for (const auto& pdb : cluster.pdbs) pdbs_in[pdb.ns].push_back(&pdb);
  std::map<std::string, std::vector<const Node*>> nodes_of;
  for (const auto& node : cluster.nodes) {
    if (!node.group().empty()) nodes_of[node.group()].push_back(&node);
  }

  std::vector<Candidate> candidates;
  for (const auto& group : cluster.node_groups) {
    GroupScaleDown out;
    out.group = group.name;
    const auto& members = nodes_of[group.name];
    out.current_nodes = static_cast<int64_t>(members.size());
    const auto& spec = group.scale_down;
    const auto& status = group.status;
    if (!spec.enabled) {
      out.group_blockers.push_back({BlockReason::kScaleDownDisabled, "", "", "spec.scaleDown.enabled is false"});
    }
    if (options.groups_scaling_up.count(group.name)) {
      out.group_blockers.push_back({BlockReason::kScaleUpPlanned, "", "", "this pass scales the group up"});
    }
    if (status.last_scale_up && now < *status.last_scale_up + seconds(spec.delay_after_add_seconds)) {
      out.group_blockers.push_back(
          {BlockReason::kDelayAfterAdd, "", "",
           "last scale-up at " + format_time(*status.last_scale_up) + ", no scale-down before " +
               format_time(*status.last_scale_up + seconds(spec.delay_after_add_seconds))});
    }
    if (status.last_scale_down_failure &&
        now < *status.last_scale_down_failure + seconds(spec.delay_after_failure_seconds)) {
      out.group_blockers.push_back(
          {BlockReason::kDelayAfterFailure, "", "",
           "last scale-down failure at " + format_time(*status.last_scale_down_failure) +
               ", no scale-down before " +
               format_time(*status.last_scale_down_failure + seconds(spec.delay_after_failure_seconds))});
    }
    if (out.current_nodes > 0 && out.current_nodes <= group.min_nodes) {
      out.group_blockers.push_back({BlockReason::kMinNodes, "", "",
                                    "group has " + std::to_string(out.current_nodes) + " nodes, minNodes is " +
                                        std::to_string(group.min_nodes)});
    }
    std::map<std::string, std::optional<TimePoint>> since;
    for (const auto& n : status.nodes) since[n.name] = n.unneeded_since;

    std::vector<const Node*> sorted = members;
    std::sort(sorted.begin(), sorted.end(), [](const Node* a, const Node* b) { return a->name < b->name; });
    for (const Node* node : sorted) {
      NodeScaleDown n;
      n.node = node->name;
      const auto sim_index = sim.find(node->name);
      Resources used;
      std::vector<const Pod*> movable_pods;
      for (const Pod* pod : pods_on[node->name]) {
        used += pod->spec.requests;
        if (movable(*pod)) movable_pods.push_back(pod);
      }
      n.cpu_utilization = node->allocatable.cpu_milli > 0 ? double(used.cpu_milli) / double(node->allocatable.cpu_milli) : 1;
      n.memory_utilization =
          node->allocatable.memory_bytes > 0 ? double(used.memory_bytes) / double(node->allocatable.memory_bytes) : 1;
      n.utilization = std::max(n.cpu_utilization, n.memory_utilization);
      n.empty = movable_pods.empty();
      node_blockers(*node, n.blockers);
      if (!node->ready) {
        // A dead VPS keeps being billed: after unreadySeconds it goes whatever its load,
        // without a simulation (its pods' replacements are the scheduler's and the
        // scale-up's business), unless deleting the VM would destroy a volume's data or a
        // pod opted out. Terminating pods count: a kubelet that is gone never ends them.
        n.not_ready_since = node->not_ready_since.value_or(now);
        const int64_t unready_for = std::chrono::duration_cast<seconds>(now - *n.not_ready_since).count();
        if (unready_for < spec.unready_seconds) {
          n.blockers.push_back({BlockReason::kNodeNotReady, "", "",
                                // No elapsed time in it: the reconciler reports each new
                                // message as an Event, so it must not change every pass.
                                "node is not Ready since " + format_time(*n.not_ready_since) + ", removable at " +
                                    format_time(*n.not_ready_since + seconds(spec.unready_seconds)) +
                                    " (unreadySeconds " + seconds_text(spec.unready_seconds) + ")"});
        } else if (unready_halt) {
          n.blockers.push_back({BlockReason::kTooManyUnready, "", "", *unready_halt});
        }
        for (const Pod* pod : pods_on[node->name]) {
          if (pod->daemonset() || pod->mirror || pod->terminal()) continue;
          opt_out_blockers(*pod, n.blockers);
          PodSchedulingSpec unused;
          volumes.resolve(*pod, *node, unused, n.blockers);
        }
        if (!n.blockers.empty() || !sim_index) {
          n.state = NodeState::kBlocked;
        } else {
          n.state = NodeState::kUnneeded;
          candidates.push_back({plan.groups.size(), out.nodes.size(), *sim_index, {}, true});
        }
        out.nodes.push_back(std::move(n));
        continue;
      }
      // As cluster-autoscaler: underutilized at or below the threshold. Empty nodes (only
      // DaemonSet and mirror pods) always are, so a threshold of 0 removes exactly those.
      if (!n.empty && n.utilization > spec.utilization_threshold) {
        n.state = NodeState::kNeeded;
        out.nodes.push_back(std::move(n));
        continue;
      }
      // Pods on this node per PDB: a PDB allowing no disruption blocks the node. One allowing
      // fewer than its pods here does not (cluster-autoscaler's RemainingPdbTracker): the drain
      // evicts them one at a time, the apiserver answering 429 until each replacement is
      // Ready. Requiring all at once left a node unremovable whenever the scheduler had
      // put a second replica on it (seen on the real scheduler after the previous drain).
      std::map<const PodDisruptionBudget*, std::vector<const Pod*>> by_pdb;
      const auto& ns_pdbs = pdbs_in;
      for (const Pod* pod : movable_pods) {
        std::vector<const PodDisruptionBudget*> matching;
        if (const auto it = ns_pdbs.find(pod->ns); it != ns_pdbs.end()) {
          for (const auto* pdb : it->second) {
            if (pdb->selector.matches(pod->labels)) matching.push_back(pdb);
          }
        }
        for (const auto* pdb : matching) by_pdb[pdb].push_back(pod);
        pod_blockers(*pod, matching, n.blockers);
        if (matching.size() > 1) {
          // The Eviction API answers 500 for such a pod whatever the budgets allow: a drain
          // would only be started and undone, again after each delayAfterFailureSeconds.
          const std::string ref = pod->ref().str();
          const std::string first = matching[0]->ns + "/" + matching[0]->name;
          n.blockers.push_back({BlockReason::kPdb, ref, first,
                                "pod " + ref + " is selected by more than one PDB (" + first + ", " +
                                    matching[1]->ns + "/" + matching[1]->name +
                                    "): the Eviction API refuses to evict it"});
        }
      }
      std::vector<PodToMove> to_move;
      for (const Pod* pod : movable_pods) {
        const PodSchedulingSpec* pod_spec = &pod->spec;
        if (!pod->claims.empty()) {
          PodSchedulingSpec with_volumes = pod->spec;
          volumes.resolve(*pod, *node, with_volumes, n.blockers);
          if (!with_volumes.volume_affinity.empty()) pod_spec = &volume_specs.emplace_back(std::move(with_volumes));
        }
        to_move.push_back({pod, pod_spec});
      }
      for (const auto& [pdb, pods] : by_pdb) {
        if (pdb->disruptions_allowed > 0) continue;
        for (const Pod* pod : pods) {
          const std::string ref = pod->ref().str();
          const std::string pdb_ref = pdb->ns + "/" + pdb->name;
          n.blockers.push_back({BlockReason::kPdb, ref, pdb_ref,
                                "pod " + ref + " is protected by PDB " + pdb_ref + " (disruptionsAllowed " +
                                    std::to_string(pdb->disruptions_allowed) + ")"});
        }
      }
      if (!n.blockers.empty() || !sim_index) {
        n.state = NodeState::kBlocked;
        out.nodes.push_back(std::move(n));
        continue;
      }
      n.state = NodeState::kUnneeded;
      sim.mark_candidate(*sim_index);
      const auto recorded = since.find(node->name);
      n.unneeded_since = recorded != since.end() && recorded->second ? *recorded->second : now;
      candidates.push_back({plan.groups.size(), out.nodes.size(), *sim_index, std::move(to_move)});
      out.nodes.push_back(std::move(n));
    }
    plan.groups.push_back(std::move(out));
  }

  // Empty candidates first (they free destinations of nothing), then the least utilized.
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    const auto& na = plan.groups[a.group].nodes[a.node];
    const auto& nb = plan.groups[b.group].nodes[b.node];
    if (a.unready != b.unready) return a.unready;  // dead nodes first: they take no room
    if (na.empty != nb.empty) return na.empty;
    return na.utilization < nb.utilization;
  });
  sim.order_destinations();
  bool non_empty_removed = false;
  std::vector<int64_t> empty_removed(plan.groups.size(), 0);
  for (const Candidate& c : candidates) {
    GroupScaleDown& group_plan = plan.groups[c.group];
    const NodeGroup& group = cluster.node_groups[c.group];
    NodeScaleDown& n = group_plan.nodes[c.node];
    // Group gates and minNodes, for every candidate.
    const auto add_gates = [&] {
      for (const auto& b : group_plan.group_blockers) {
        if (b.reason != BlockReason::kMinNodes) n.blockers.push_back(b);
      }
      if (group_plan.target_nodes() - 1 < group.min_nodes) {
        n.blockers.push_back({BlockReason::kMinNodes, "", "",
                              "removing it would leave " + std::to_string(group_plan.target_nodes() - 1) +
                                  " nodes, minNodes is " + std::to_string(group.min_nodes)});
      }
    };
    if (c.unready) {
      add_gates();
      if (n.blockers.empty()) {
        n.state = NodeState::kRemove;
        sim.mark_removing(c.sim);
        group_plan.remove.push_back(n.node);
      }
      continue;
    }
    std::vector<std::pair<size_t, Resources>> applied;
    std::string failed_pod;
    std::string why;
    if (!sim.place(c.pods, c.sim, n.moves, applied, failed_pod, why)) {
      n.state = NodeState::kBlocked;
      n.unneeded_since.reset();
      n.blockers.push_back({BlockReason::kNoPlaceToMove, failed_pod, "", why});
      continue;
    }
    const int64_t unneeded_for = std::chrono::duration_cast<seconds>(now - *n.unneeded_since).count();
    if (unneeded_for < group.scale_down.unneeded_seconds) {
      n.blockers.push_back({BlockReason::kUnneededTooShort, "", "",
                            "unneeded since " + format_time(*n.unneeded_since) + " (" + seconds_text(unneeded_for) +
                                "), removable after " + seconds_text(group.scale_down.unneeded_seconds)});
    }
    add_gates();
    if (n.blockers.empty()) {
      if (n.empty && empty_removed[c.group] >= group.scale_down.max_empty_bulk_delete) {
        n.blockers.push_back({BlockReason::kEmptyBulkLimit, "", "",
                              "maxEmptyBulkDelete " + std::to_string(group.scale_down.max_empty_bulk_delete) +
                                  " empty nodes already go this pass"});
      } else if (!n.empty && non_empty_removed) {
        n.blockers.push_back({BlockReason::kNonEmptyLimit, "", "",
                              "another non-empty node is drained in this pass (one at a time)"});
      }
    }
    if (!n.blockers.empty()) {
      sim.revert(applied);  // moves stay in the report as "where the pods would go"
      continue;
    }
    n.state = NodeState::kRemove;
    sim.mark_removing(c.sim);
    group_plan.remove.push_back(n.node);
    if (n.empty) {
      ++empty_removed[c.group];
    } else {
      non_empty_removed = true;
    }
  }
  for (auto& g : plan.groups) std::sort(g.remove.begin(), g.remove.end());
  return plan;
}

}  // namespace ballast::nodepool
