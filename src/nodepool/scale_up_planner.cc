#include "nodepool/scale_up_planner.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "nodepool/expander.h"

namespace ballast::nodepool {

int64_t GroupScaleUp::nodes_to_add() const {
  int64_t n = min_nodes_add;
  for (const auto& o : add) n += static_cast<int64_t>(o.nodes.size());
  return n;
}

const GroupScaleUp* ScaleUpPlan::find(const std::string& group) const {
  for (const auto& g : groups) {
    if (g.group == group) return &g;
  }
  return nullptr;
}

Labels template_labels(const NodeGroup& group, const Offering& offering) {
  Labels labels{{"kubernetes.io/os", "linux"},
                {"node.kubernetes.io/instance-type", offering.id},
                {kNodeGroupLabel, group.name}};
  for (const auto& [k, v] : group.labels) labels[k] = v;
  labels[kNodeGroupLabel] = group.name;
  return labels;
}

namespace {

using std::chrono::seconds;

// DaemonSet pod specs that would run on new nodes: the DaemonSet objects, else one
// representative per DaemonSet among the running pods (affinity dropped: the controller
// pins each pod to its node by name).
std::vector<PodSchedulingSpec> daemon_specs(const ClusterSnapshot& cluster) {
  std::vector<PodSchedulingSpec> out;
  if (!cluster.daemonsets.empty()) {
    for (const auto& ds : cluster.daemonsets) out.push_back(ds.pod);
    return out;
  }
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& pod : cluster.pods) {
    if (!pod.daemonset() || !seen.emplace(pod.ns, pod.controller_name).second) continue;
    PodSchedulingSpec spec = pod.spec;
    spec.required_affinity.clear();
    out.push_back(std::move(spec));
  }
  return out;
}

Resources daemon_overhead(const std::vector<PodSchedulingSpec>& daemons, const NodeGroup& group,
                          const Labels& labels) {
  Resources total;
  const NodeShape shape{"", &labels, &group.taints, false};
  for (const auto& d : daemons) {
    if (check_static(d, shape).ok()) total += d.requests;
  }
  return total;
}

Resources allocatable_for(const Offering& offering, const NodeGroup& group, const Resources& daemons) {
  Resources a = offering.capacity;
  a.cpu_milli -= group.reserved.cpu_milli;
  a.memory_bytes -= group.reserved.memory_bytes;
  return a - daemons;
}

// check_resources(request, free).ok() without building the failure text.
bool fits(const Resources& request, const Resources& free) {
  return request.pods <= free.pods && request.cpu_milli <= free.cpu_milli && request.memory_bytes <= free.memory_bytes;
}

double score(const Resources& r, const Resources& reference) {
  const double cpu = reference.cpu_milli > 0 ? double(r.cpu_milli) / double(reference.cpu_milli) : 0;
  const double mem = reference.memory_bytes > 0 ? double(r.memory_bytes) / double(reference.memory_bytes) : 0;
  return cpu + mem;
}

struct Pending {
  const Pod* pod;
  const PodSchedulingSpec* spec;  // the pod's, or a copy with its bound PVs' node affinity
  size_t cls;
  int64_t age_seconds;
  bool placed = false;
};

struct GroupState {
  const NodeGroup* group;
  Labels labels;  // template labels (offering label differs per offering: see OptionState)
  int64_t current = 0;
  int64_t in_flight = 0;
  int64_t headroom = 0;
  std::vector<FitResult> class_fit;  // static predicates per pod class
};

struct OptionState {
  size_t group;
  size_t offering;
  Resources allocatable;
  std::vector<size_t> order;  // candidate pending indices, FFD order for this template
  // Last simulation (valid while `dirty` and `resume` are false): pending indices per new
  // node. `resume`: only a prefix of the placements is kept (see roll_back); the packing
  // continues after the last of them.
  bool dirty = true;
  bool resume = false;
  std::vector<std::vector<size_t>> nodes;
  std::vector<Resources> used;
  std::vector<size_t> placed;       // pending indices in placement order
  std::vector<size_t> placed_node;  // the new node each of `placed` went to
  Resources requested;              // sum over `used`
};

// Undoes the placements from the `keep`-th on, newest first. First fit decreasing is
// sequential: the state after the first `keep` placements is what a fresh simulation
// reaches at that point as long as none of those pods was taken and the headroom is the
// same (pods it skipped, taken or not, changed nothing). Nodes open in placement order,
// so a node left empty is always the last one.
void roll_back(OptionState& option, const std::vector<Pending>& pending, size_t keep) {
  for (size_t k = option.placed.size(); k-- > keep;) {
    const size_t n = option.placed_node[k];
    option.used[n] -= pending[option.placed[k]].pod->spec.requests;
    option.nodes[n].pop_back();
    if (option.nodes[n].empty()) {
      option.nodes.pop_back();
      option.used.pop_back();
    }
  }
  option.placed.resize(keep);
  option.placed_node.resize(keep);
  option.resume = true;
}

std::string template_node_name(size_t index);

// An option's new nodes in the pass's PodTopology while one simulation of it runs, for
// the inter-pod rules; all undone when it ends (a commit adds them for good).
class TemplateNodes {
 public:
  TemplateNodes(PodTopology& topology, const Labels& labels, const std::vector<Taint>& taints)
      : topology_(topology), labels_(labels), taints_(taints), base_(topology.size()) {}
  TemplateNodes(const TemplateNodes&) = delete;
  TemplateNodes& operator=(const TemplateNodes&) = delete;
  ~TemplateNodes() {
    for (auto it = placed_.rbegin(); it != placed_.rend(); ++it) topology_.unplace(base_ + *it);
    for (size_t i = 0; i < opened_; ++i) topology_.pop_node();
  }

  bool fits(const Pod& pod, size_t n) const { return topology_.check(pod, base_ + n).ok(); }
  // Opens the next new node if `pod` may run there; otherwise leaves nothing behind.
  bool open_for(const Pod& pod) {
    const size_t i = topology_.add_node(&labels_, &taints_, template_node_name(topology_.size()));
    if (!topology_.check(pod, i).ok()) {
      topology_.pop_node();
      return false;
    }
    ++opened_;
    return true;
  }
  void place(const Pod& pod, size_t n) {
    topology_.place(base_ + n, pod);
    placed_.push_back(n);
  }

 private:
  PodTopology& topology_;
  const Labels& labels_;
  const std::vector<Taint>& taints_;
  const size_t base_;
  size_t opened_ = 0;
  std::vector<size_t> placed_;
};

// First fit decreasing of the option's candidates onto new template nodes, at most
// `headroom` of them; `templates` (when some pod has inter-pod terms) also checks
// affinity, anti-affinity and spread.
void simulate(OptionState& option, const std::vector<Pending>& pending, int64_t headroom, TemplateNodes* templates) {
  size_t from = 0;  // position in `order` to continue from
  if (option.dirty) {
    option.nodes.clear();
    option.used.clear();
    option.placed.clear();
    option.placed_node.clear();
  } else if (!option.placed.empty()) {
    from = static_cast<size_t>(std::find(option.order.begin(), option.order.end(), option.placed.back()) -
                               option.order.begin()) + 1;
  }
  option.dirty = false;
  option.resume = false;
  // Once every node the headroom allows is open, most pods that are left fit none of
  // them: the largest free amount per dimension rejects those without a scan.
  bool full = static_cast<int64_t>(option.used.size()) >= headroom;
  Resources max_free;
  const auto refresh_max_free = [&] {
    max_free = {};
    for (const auto& u : option.used) {
      const Resources f = option.allocatable - u;
      max_free = {std::max(max_free.cpu_milli, f.cpu_milli), std::max(max_free.memory_bytes, f.memory_bytes),
                  std::max(max_free.pods, f.pods)};
    }
  };
  if (full) refresh_max_free();
  for (size_t pos = from; pos < option.order.size(); ++pos) {
    const size_t index = option.order[pos];
    const Pending& p = pending[index];
    if (p.placed) continue;
    const Resources& request = p.pod->spec.requests;
    if (full && (request.cpu_milli > max_free.cpu_milli || request.memory_bytes > max_free.memory_bytes ||
                 request.pods > max_free.pods)) {
      continue;
    }
    size_t target = option.used.size();
    for (size_t n = 0; n < option.used.size(); ++n) {
      const Resources& u = option.used[n];
      if (u.cpu_milli + request.cpu_milli <= option.allocatable.cpu_milli &&
          u.memory_bytes + request.memory_bytes <= option.allocatable.memory_bytes &&
          u.pods + request.pods <= option.allocatable.pods && (templates == nullptr || templates->fits(*p.pod, n))) {
        target = n;
        break;
      }
    }
    if (target == option.used.size()) {
      if (static_cast<int64_t>(option.used.size()) >= headroom) continue;
      if (templates != nullptr && !templates->open_for(*p.pod)) continue;
      option.used.emplace_back();
      option.nodes.emplace_back();
    }
    if (templates != nullptr) templates->place(*p.pod, target);
    option.used[target] += request;
    option.nodes[target].push_back(index);
    option.placed.push_back(index);
    option.placed_node.push_back(target);
    full = static_cast<int64_t>(option.used.size()) >= headroom;
    if (full) refresh_max_free();
  }
  option.requested = {};
  for (const auto& u : option.used) option.requested += u;
}

std::string template_node_name(size_t index) { return "template-node-" + std::to_string(index); }

std::string mib(int64_t bytes) { return std::to_string(bytes / (1024 * 1024)) + "Mi"; }

std::string describe_resources(const Resources& r) {
  return std::to_string(r.cpu_milli) + "m cpu, " + mib(r.memory_bytes) + " memory, " + std::to_string(r.pods) +
         " pods";
}

}  // namespace

Resources template_allocatable(const ClusterSnapshot& cluster, const NodeGroup& group, const Offering& offering) {
  const Labels labels = template_labels(group, offering);
  return allocatable_for(offering, group, daemon_overhead(daemon_specs(cluster), group, labels));
}


namespace {

// One scale-up pass, step by step (plan_scale_up runs them in order). Holds pointers into
// the cluster snapshot, which outlives it.
class ScaleUpPass {
 public:
  ScaleUpPass(const ClusterSnapshot& cluster, TimePoint now)
      : cluster_(cluster),
        now_(now),
        daemons_(daemon_specs(cluster)),
        offering_labels_(cluster.node_groups.size()),
        volumes_(cluster) {}

  ScaleUpPlan run() {
    collect_capacity();
    collect_pending();
    place_on_existing();
    build_options();
    expand();
    add_min_nodes();
    explain_unplaced();
    return std::move(plan_);
  }

 private:
  // 1. Capacity already there: registered, ready nodes, then in-flight template nodes.
  void collect_capacity() {
    std::unordered_map<std::string, size_t> node_index;
    for (const auto& node : cluster_.nodes) {
      if (!node.ready) continue;
      node_index.emplace(node.name, existing_.size());
      existing_.push_back({{node.name, &node.labels, &node.taints, node.unschedulable}, node.allocatable, {}});
      existing_in_flight_.push_back(false);
      topology_.add_node(&node.labels, &node.taints, node.name);
    }
    for (const auto& pod : cluster_.pods) {
      if (pod.node_name.empty() || pod.terminal()) continue;
      const auto it = node_index.find(pod.node_name);
      if (it == node_index.end()) continue;
      existing_[it->second].used += pod.spec.requests;
      topology_.place(it->second, pod);
    }
    std::set<std::string> registered;
    std::map<std::string, int64_t> group_nodes;
    for (const auto& node : cluster_.nodes) {
      registered.insert(node.name);
      if (!node.group().empty()) ++group_nodes[node.group()];
    }
    for (size_t g = 0; g < cluster_.node_groups.size(); ++g) {
      const NodeGroup& group = cluster_.node_groups[g];
      GroupState state{&group, {}, group_nodes[group.name], 0, 0, {}};
      for (const auto& f : group.status.in_flight) {
        if (!registered.count(f.name)) ++state.in_flight;
      }
      state.headroom = std::max<int64_t>(0, group.max_nodes - state.current - state.in_flight);
      for (const auto& offering : group.offerings) offering_labels_[g].push_back(template_labels(group, offering));
      if (!group.offerings.empty()) state.labels = offering_labels_[g].front();
      groups_.push_back(std::move(state));
    }
    for (size_t g = 0; g < cluster_.node_groups.size(); ++g) {
      const NodeGroup& group = cluster_.node_groups[g];
      for (const auto& f : group.status.in_flight) {
        if (registered.count(f.name)) continue;
        const Offering* offering = group.find_offering(f.offering);
        if (offering == nullptr) continue;
        const Labels& labels = offering_labels_[g][static_cast<size_t>(offering - group.offerings.data())];
        existing_.push_back({{f.name, &labels, &group.taints, false}, template_for(group, *offering, labels), {}});
        existing_in_flight_.push_back(true);
        topology_.add_node(&labels, &group.taints, f.name);
      }
    }
  }

  // 2. Pending pods: PodScheduled=False/Unschedulable, not bound, old enough for some group.
  void collect_pending() {
    int64_t youngest_threshold = std::numeric_limits<int64_t>::max();
    for (const auto& g : cluster_.node_groups) {
      youngest_threshold = std::min(youngest_threshold, g.scale_up.pod_age_seconds);
    }
    if (cluster_.node_groups.empty()) youngest_threshold = ScaleUpSpec{}.pod_age_seconds;
    std::unordered_map<std::string, size_t> classes;
    for (const auto& pod : cluster_.pods) {
      if (!pod.unschedulable || !pod.node_name.empty() || pod.terminal() || pod.terminating) continue;
      ++plan_.pending_considered;
      const int64_t age = pod.unschedulable_since
                              ? std::chrono::duration_cast<seconds>(now_ - *pod.unschedulable_since).count()
                              : std::numeric_limits<int64_t>::max();
      if (age < youngest_threshold) {
        plan_.waiting.push_back(pod.ref());
        continue;
      }
      const PodSchedulingSpec* spec = with_volumes(pod);
      const auto [it, added] = classes.emplace(scheduling_key(*spec), class_spec_.size());
      if (added) class_spec_.push_back(spec);
      pending_.push_back({&pod, spec, it->second, age});
      inter_pod_ = inter_pod_ || pod.has_inter_pod_terms();
    }
    inter_pod_ = inter_pod_ || topology_.has_anti_affinity();
  }

  // The pod's spec with its bound PVs' node affinity (kube-scheduler's VolumeBinding): a
  // PV pinned to a node or zone admits only nodes there. An unbound claim constrains
  // nothing (provisioned where the pod lands); a claim or PV not in the snapshot admits
  // no node, as the scheduler fails the pod.
  const PodSchedulingSpec* with_volumes(const Pod& pod) {
    if (pod.claims.empty()) return &pod.spec;
    PodSchedulingSpec spec = pod.spec;
    for (const auto& c : pod.claims) {
      const ClaimVolume found = volumes_.find(pod.ns, c);
      if (found.state == ClaimVolume::State::kUnknown) spec.volume_affinity.emplace_back();
      if (found.state == ClaimVolume::State::kBound && !found.pv->node_affinity.empty()) {
        spec.volume_affinity.push_back(found.pv->node_affinity);
      }
    }
    if (spec.volume_affinity.empty()) return &pod.spec;
    return &volume_specs_.emplace_back(std::move(spec));
  }

  // 3. First fit decreasing onto capacity already there (the scheduler may not have
  //    retried yet, or an in-flight node will take the pod).
  void place_on_existing() {
    Resources reference{1000, 1024LL * 1024 * 1024, 1};
    for (const auto& n : existing_) {
      reference.cpu_milli = std::max(reference.cpu_milli, n.allocatable.cpu_milli);
      reference.memory_bytes = std::max(reference.memory_bytes, n.allocatable.memory_bytes);
    }
    std::vector<size_t> by_size(pending_.size());
    for (size_t i = 0; i < by_size.size(); ++i) by_size[i] = i;
    sort_largest_first(by_size, reference);
    Resources max_free;  // upper bound of any node's free resources (only shrinks)
    for (const auto& n : existing_) {
      const Resources f = n.free();
      max_free = {std::max(max_free.cpu_milli, f.cpu_milli), std::max(max_free.memory_bytes, f.memory_bytes),
                  std::max(max_free.pods, f.pods)};
    }
    std::vector<size_t> all_existing(existing_.size());
    for (size_t i = 0; i < all_existing.size(); ++i) all_existing[i] = i;
    FeasibleNodes feasible(existing_, std::move(all_existing));
    for (size_t index : by_size) {
      Pending& p = pending_[index];
      if (!fits(p.pod->spec.requests, max_free)) continue;
      for (size_t n : feasible.for_pod(*p.spec)) {
        if (fits(p.pod->spec.requests, existing_[n].free()) && (!inter_pod_ || topology_.check(*p.pod, n).ok())) {
          existing_[n].used += p.pod->spec.requests;
          topology_.place(n, *p.pod);
          p.placed = true;
          plan_.fits_existing.push_back({p.pod->ref(), existing_[n].shape.name, existing_in_flight_[n]});
          break;
        }
      }
    }
  }

  // 4. Options: static predicates per pod class and group; per (group, offering) the
  //    candidates in FFD order. Candidates per group come from the classes that pass its
  //    predicates (pending indices ascending, as one scan of `pending` would list them).
  void build_options() {
    std::vector<std::vector<size_t>> class_members(class_spec_.size());
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (!pending_[i].placed) class_members[pending_[i].cls].push_back(i);
    }
    std::vector<size_t> candidates;
    for (size_t g = 0; g < groups_.size(); ++g) {
      GroupState& state = groups_[g];
      const NodeGroup& group = *state.group;
      const NodeShape shape{"", &state.labels, &group.taints, false};
      state.class_fit.reserve(class_spec_.size());
      for (const auto* spec : class_spec_) state.class_fit.push_back(check_static(*spec, shape));
      candidates.clear();
      for (size_t c = 0; c < class_members.size(); ++c) {
        if (!state.class_fit[c].ok()) continue;
        for (size_t i : class_members[c]) {
          if (pending_[i].age_seconds >= group.scale_up.pod_age_seconds) candidates.push_back(i);
        }
      }
      std::sort(candidates.begin(), candidates.end());
      for (size_t o = 0; o < group.offerings.size(); ++o) {
        OptionState option{g, o, template_for(group, group.offerings[o], offering_labels_[g][o]),
                           {}, true, false, {}, {}, {}, {}, {}};
        option.order.reserve(candidates.size());
        for (size_t i : candidates) {
          if (fits(pending_[i].pod->spec.requests, option.allocatable)) option.order.push_back(i);
        }
        sort_largest_first(option.order, option.allocatable);
        options_.push_back(std::move(option));
      }
    }
    // Priority is the first expander filter: only the highest tier that places anything
    // needs simulating, so options are visited tier by tier.
    std::stable_sort(options_.begin(), options_.end(), [&](const OptionState& a, const OptionState& b) {
      return groups_[a.group].group->priority > groups_[b.group].group->priority;
    });
  }

  // 5. The expander picks the best simulated option, its pods are taken; repeat until no
  //    option places a pod.
  void expand() {
    for (const auto& g : groups_) plan_.groups.push_back({g.group->name, g.current, g.in_flight, {}, 0, {}});
    while (OptionState* best = best_option()) commit(*best);
  }

  // The simulated options of the highest priority tier that places anything, chosen by
  // the expander; nullptr when none places a pod.
  OptionState* best_option() {
    std::vector<OptionState*> viable;
    for (auto& option : options_) {
      if (!viable.empty() && priority(option) != priority(*viable.front())) break;
      if (option.order.empty()) continue;
      if (option.dirty || option.resume) {
        // Drop pods taken by earlier commits so later simulations skip them for good.
        std::erase_if(option.order, [&](size_t index) { return pending_[index].placed; });
        if (inter_pod_) {
          TemplateNodes templates(topology_, offering_labels_[option.group][option.offering],
                                  groups_[option.group].group->taints);
          simulate(option, pending_, groups_[option.group].headroom, &templates);
        } else {
          simulate(option, pending_, groups_[option.group].headroom, nullptr);
        }
      }
      if (!option.placed.empty()) viable.push_back(&option);
    }
    if (viable.empty()) return nullptr;
    std::vector<ExpansionOption> views;
    views.reserve(viable.size());
    for (const OptionState* o : viable) {
      const NodeGroup& group = *groups_[o->group].group;
      views.push_back(
          {&group, &group.offerings[o->offering], static_cast<int64_t>(o->nodes.size()), o->placed.size(), o->requested});
    }
    std::vector<const ExpansionOption*> choices;
    for (const auto& v : views) choices.push_back(&v);
    const ExpansionOption* chosen = Expander::standard().choose(choices);
    return viable[static_cast<size_t>(chosen - views.data())];
  }

  void commit(OptionState& best) {
    GroupState& state = groups_[best.group];
    GroupScaleUp& out = plan_.groups[best.group];
    const Offering& offering = state.group->offerings[best.offering];
    OfferingScaleUp* slot = nullptr;
    for (auto& a : out.add) {
      if (a.offering == offering.id) slot = &a;
    }
    if (slot == nullptr) {
      out.add.push_back({offering.id, best.allocatable, {}});
      slot = &out.add.back();
    }
    for (size_t n = 0; n < best.nodes.size(); ++n) {
      PlannedNode planned;
      planned.requested = best.used[n];
      for (size_t index : best.nodes[n]) planned.pods.push_back(pending_[index].pod->ref());
      slot->nodes.push_back(std::move(planned));
    }
    state.headroom -= static_cast<int64_t>(best.nodes.size());
    for (size_t index : best.placed) pending_[index].placed = true;
    const size_t chosen_group = best.group;
    if (inter_pod_) {
      // The new nodes and their pods stay in the topology; every other option's packing
      // may depend on them, so all are simulated again.
      for (const auto& pods : best.nodes) {
        const size_t i = topology_.add_node(&offering_labels_[best.group][best.offering], &state.group->taints,
                                            template_node_name(topology_.size()));
        for (size_t index : pods) topology_.place(i, *pending_[index].pod);
      }
      for (auto& option : options_) option.dirty = true;
      return;
    }
    for (auto& option : options_) {
      if (option.dirty) continue;
      if (option.group == chosen_group) {
        option.dirty = true;
        continue;
      }
      // Still valid unless it placed a pod this commit took (pods it left unplaced had
      // no effect on its packing); then valid up to the first such pod.
      for (size_t k = 0; k < option.placed.size(); ++k) {
        if (pending_[option.placed[k]].placed) {
          roll_back(option, pending_, k);
          break;
        }
      }
    }
  }

  // 6. Groups below minNodes get empty nodes of their first offering.
  void add_min_nodes() {
    for (size_t g = 0; g < groups_.size(); ++g) {
      const NodeGroup& group = *groups_[g].group;
      GroupScaleUp& out = plan_.groups[g];
      const int64_t total = out.target_nodes();
      if (total < group.min_nodes && !group.offerings.empty()) {
        out.min_nodes_add = std::max<int64_t>(0, std::min(group.min_nodes, group.max_nodes) - total);
        out.min_nodes_offering = group.offerings.front().id;
      }
    }
  }

  // 7. Every pending pod left gets the reason of each group.
  void explain_unplaced() {
    for (const Pending& p : pending_) {
      if (p.placed) continue;
      UnplacedPod u{p.pod->ref(), p.pod->spec.requests, {}};
      for (size_t g = 0; g < groups_.size(); ++g) explain_group(p, g, u.rejections);
      plan_.unplaced.push_back(std::move(u));
    }
  }

  void explain_group(const Pending& p, size_t g, std::vector<GroupRejection>& out) {
    const GroupState& state = groups_[g];
    const NodeGroup& group = *state.group;
    if (group.offerings.empty()) {
      out.push_back({group.name, "", "no-offerings", "the group has no offerings"});
      return;
    }
    if (p.age_seconds < group.scale_up.pod_age_seconds) {
      out.push_back({group.name, "", "pod-too-young",
                     "unschedulable for " + std::to_string(p.age_seconds) + "s, group waits " +
                         std::to_string(group.scale_up.pod_age_seconds) + "s"});
      return;
    }
    const FitResult& fit = state.class_fit[p.cls];
    if (!fit.ok()) {
      out.push_back({group.name, "", fit_failure_code(fit.failure), fit.detail});
      return;
    }
    bool fits_some_offering = false;
    for (const auto& option : options_) {
      if (option.group != g) continue;
      const Offering& offering = group.offerings[option.offering];
      if (option.allocatable.cpu_milli <= 0 || option.allocatable.memory_bytes <= 0 || option.allocatable.pods <= 0) {
        out.push_back({group.name, offering.id, "offering-too-small",
                       "reserved and DaemonSet requests leave " + describe_resources(option.allocatable)});
        continue;
      }
      const FitResult r = check_resources(p.pod->spec.requests, option.allocatable);
      if (!r.ok()) {
        out.push_back({group.name, offering.id, fit_failure_code(r.failure),
                       r.detail + ": requests " + describe_resources(p.pod->spec.requests) + ", a new node has " +
                           describe_resources(option.allocatable)});
        continue;
      }
      if (inter_pod_) {
        // Even an empty new node of this offering is turned away by the pods around it.
        const FitResult t = check_on_new_node(*p.pod, g, option.offering);
        if (!t.ok()) {
          out.push_back({group.name, offering.id, fit_failure_code(t.failure), t.detail});
          continue;
        }
      }
      fits_some_offering = true;
    }
    if (fits_some_offering) {
      out.push_back({group.name, "", "max-nodes-reached",
                     "group at maxNodes " + std::to_string(group.max_nodes) + " (" + std::to_string(state.current) +
                         " nodes, " + std::to_string(state.in_flight) + " in flight, " +
                         std::to_string(plan_.groups[g].nodes_to_add()) + " planned)"});
    }
  }

  // The inter-pod rules for `pod` on one more, empty node of (group g, offering o).
  FitResult check_on_new_node(const Pod& pod, size_t g, size_t o) {
    const size_t i =
        topology_.add_node(&offering_labels_[g][o], &groups_[g].group->taints, template_node_name(topology_.size()));
    FitResult fit = topology_.check(pod, i);
    topology_.pop_node();
    return fit;
  }

  int64_t priority(const OptionState& option) const { return groups_[option.group].group->priority; }

  Resources template_for(const NodeGroup& group, const Offering& offering, const Labels& labels) const {
    return allocatable_for(offering, group, daemon_overhead(daemons_, group, labels));
  }

  // Largest `cpu/reference + memory/reference` first, stable; scores computed once per pod.
  void sort_largest_first(std::vector<size_t>& indices, const Resources& reference) const {
    std::vector<std::pair<double, size_t>> keyed;
    keyed.reserve(indices.size());
    for (size_t i : indices) keyed.emplace_back(score(pending_[i].pod->spec.requests, reference), i);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t k = 0; k < keyed.size(); ++k) indices[k] = keyed[k].second;
  }

  const ClusterSnapshot& cluster_;
  const TimePoint now_;
  const std::vector<PodSchedulingSpec> daemons_;
  // Template labels per (group, offering), kept alive for the in-flight SimNodes' shapes.
  std::vector<std::vector<Labels>> offering_labels_;
  std::vector<SimNode> existing_;
  std::vector<bool> existing_in_flight_;
  std::vector<GroupState> groups_;
  std::vector<Pending> pending_;
  std::vector<const PodSchedulingSpec*> class_spec_;  // one spec per pod class
  std::vector<OptionState> options_;
  const VolumeIndex volumes_;
  std::deque<PodSchedulingSpec> volume_specs_;  // pending pods' specs with their PVs' node affinity
  // Where pods run (registered, in-flight, then committed template nodes, in that order:
  // the first existing_.size() indices are existing_'s), for the inter-pod rules.
  PodTopology topology_;
  bool inter_pod_ = false;  // some pending pod has inter-pod terms, or a running pod anti-affinity
  ScaleUpPlan plan_;
};

}  // namespace

ScaleUpPlan plan_scale_up(const ClusterSnapshot& cluster, TimePoint now) { return ScaleUpPass(cluster, now).run(); }

}  // namespace ballast::nodepool
