#include "nodepool/scale_up_planner.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

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
  double waste = 0;
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

void simulate(OptionState& option, const std::vector<Pending>& pending, int64_t headroom) {
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
          u.pods + request.pods <= option.allocatable.pods) {
        target = n;
        break;
      }
    }
    if (target == option.used.size()) {
      if (static_cast<int64_t>(option.used.size()) >= headroom) continue;
      option.used.emplace_back();
      option.nodes.emplace_back();
    }
    option.used[target] += request;
    option.nodes[target].push_back(index);
    option.placed.push_back(index);
    option.placed_node.push_back(target);
    full = static_cast<int64_t>(option.used.size()) >= headroom;
    if (full) refresh_max_free();
  }
  Resources requested;
  for (const auto& u : option.used) requested += u;
  const double count = double(option.nodes.size());
  const double cpu = count * double(option.allocatable.cpu_milli);
  const double mem = count * double(option.allocatable.memory_bytes);
  option.waste = (cpu > 0 ? (cpu - double(requested.cpu_milli)) / cpu : 0) +
                 (mem > 0 ? (mem - double(requested.memory_bytes)) / mem : 0);
}

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

ScaleUpPlan plan_scale_up(const ClusterSnapshot& cluster, TimePoint now) {
  ScaleUpPlan plan;

  // 1. Capacity already there: registered, ready nodes, then in-flight template nodes.
  std::vector<SimNode> existing;
  std::vector<bool> existing_in_flight;
  std::unordered_map<std::string, size_t> node_index;
  for (const auto& node : cluster.nodes) {
    if (!node.ready) continue;
    node_index.emplace(node.name, existing.size());
    existing.push_back({{node.name, &node.labels, &node.taints, node.unschedulable}, node.allocatable, {}});
    existing_in_flight.push_back(false);
  }
  for (const auto& pod : cluster.pods) {
    if (pod.node_name.empty() || pod.terminal()) continue;
    const auto it = node_index.find(pod.node_name);
    if (it != node_index.end()) existing[it->second].used += pod.spec.requests;
  }
  std::set<std::string> registered;
  std::map<std::string, int64_t> group_nodes;
  for (const auto& node : cluster.nodes) {
    registered.insert(node.name);
    if (!node.group().empty()) ++group_nodes[node.group()];
  }

  const std::vector<PodSchedulingSpec> daemons = daemon_specs(cluster);
  std::vector<GroupState> groups;
  std::vector<OptionState> options;
  // Template labels per (group, offering), kept alive for the in-flight SimNodes' shapes.
  std::vector<std::vector<Labels>> offering_labels(cluster.node_groups.size());
  for (size_t g = 0; g < cluster.node_groups.size(); ++g) {
    const NodeGroup& group = cluster.node_groups[g];
    GroupState state{&group, {}, group_nodes[group.name], 0, 0, {}};
    for (const auto& f : group.status.in_flight) {
      if (!registered.count(f.name)) ++state.in_flight;
    }
    state.headroom = std::max<int64_t>(0, group.max_nodes - state.current - state.in_flight);
    for (const auto& offering : group.offerings) offering_labels[g].push_back(template_labels(group, offering));
    if (!group.offerings.empty()) state.labels = offering_labels[g].front();
    groups.push_back(std::move(state));
  }
  for (size_t g = 0; g < cluster.node_groups.size(); ++g) {
    const NodeGroup& group = cluster.node_groups[g];
    for (const auto& f : group.status.in_flight) {
      if (registered.count(f.name)) continue;
      const Offering* offering = group.find_offering(f.offering);
      if (offering == nullptr) continue;
      const size_t o = static_cast<size_t>(offering - group.offerings.data());
      const Labels& labels = offering_labels[g][o];
      existing.push_back({{f.name, &labels, &group.taints, false},
                          allocatable_for(*offering, group, daemon_overhead(daemons, group, labels)),
                          {}});
      existing_in_flight.push_back(true);
    }
  }

  // 2. Pending pods: PodScheduled=False/Unschedulable, not bound, old enough for some group.
  int64_t youngest_threshold = std::numeric_limits<int64_t>::max();
  for (const auto& g : cluster.node_groups) youngest_threshold = std::min(youngest_threshold, g.scale_up.pod_age_seconds);
  if (cluster.node_groups.empty()) youngest_threshold = ScaleUpSpec{}.pod_age_seconds;
  std::vector<Pending> pending;
  std::unordered_map<std::string, size_t> classes;
  std::vector<const PodSchedulingSpec*> class_spec;
  for (const auto& pod : cluster.pods) {
    if (!pod.unschedulable || !pod.node_name.empty() || pod.terminal() || pod.terminating) continue;
    ++plan.pending_considered;
    const int64_t age = pod.unschedulable_since
                            ? std::chrono::duration_cast<seconds>(now - *pod.unschedulable_since).count()
                            : std::numeric_limits<int64_t>::max();
    if (age < youngest_threshold) {
      plan.waiting.push_back(pod.ref());
      continue;
    }
    const auto [it, added] = classes.emplace(scheduling_key(pod.spec), class_spec.size());
    if (added) class_spec.push_back(&pod.spec);
    pending.push_back({&pod, it->second, age});
  }

  // 3. First fit decreasing onto capacity already there (the scheduler may not have
  //    retried yet, or an in-flight node will take the pod).
  Resources reference{1000, 1024LL * 1024 * 1024, 1};
  for (const auto& n : existing) {
    reference.cpu_milli = std::max(reference.cpu_milli, n.allocatable.cpu_milli);
    reference.memory_bytes = std::max(reference.memory_bytes, n.allocatable.memory_bytes);
  }
  std::vector<size_t> by_size(pending.size());
  {
    std::vector<std::pair<double, size_t>> keyed;  // score computed once per pod
    keyed.reserve(pending.size());
    for (size_t i = 0; i < pending.size(); ++i) keyed.emplace_back(score(pending[i].pod->spec.requests, reference), i);
    std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t k = 0; k < keyed.size(); ++k) by_size[k] = keyed[k].second;
  }
  Resources max_free;  // upper bound of any node's free resources (only shrinks)
  for (const auto& n : existing) {
    const Resources f = n.free();
    max_free = {std::max(max_free.cpu_milli, f.cpu_milli), std::max(max_free.memory_bytes, f.memory_bytes),
                std::max(max_free.pods, f.pods)};
  }
  std::vector<size_t> all_existing(existing.size());
  for (size_t i = 0; i < all_existing.size(); ++i) all_existing[i] = i;
  FeasibleNodes feasible(existing, std::move(all_existing));
  for (size_t index : by_size) {
    Pending& p = pending[index];
    if (!fits(p.pod->spec.requests, max_free)) continue;
    for (size_t n : feasible.for_pod(p.pod->spec)) {
      if (fits(p.pod->spec.requests, existing[n].free())) {
        existing[n].used += p.pod->spec.requests;
        p.placed = true;
        plan.fits_existing.push_back({p.pod->ref(), existing[n].shape.name, existing_in_flight[n]});
        break;
      }
    }
  }

  // 4. Templates: static predicates per pod class and group; FFD order per option.
  //    Candidates per group come from the classes that pass its predicates (pending
  //    indices ascending, as one scan of `pending` would list them).
  std::vector<std::vector<size_t>> class_members(class_spec.size());
  for (size_t i = 0; i < pending.size(); ++i) {
    if (!pending[i].placed) class_members[pending[i].cls].push_back(i);
  }
  std::vector<size_t> candidates;
  std::vector<std::pair<double, size_t>> keyed;
  for (size_t g = 0; g < groups.size(); ++g) {
    GroupState& state = groups[g];
    const NodeGroup& group = *state.group;
    const NodeShape shape{"", &state.labels, &group.taints, false};
    state.class_fit.reserve(class_spec.size());
    for (const auto* spec : class_spec) state.class_fit.push_back(check_static(*spec, shape));
    candidates.clear();
    for (size_t c = 0; c < class_members.size(); ++c) {
      if (!state.class_fit[c].ok()) continue;
      for (size_t i : class_members[c]) {
        if (pending[i].age_seconds >= group.scale_up.pod_age_seconds) candidates.push_back(i);
      }
    }
    std::sort(candidates.begin(), candidates.end());
    for (size_t o = 0; o < group.offerings.size(); ++o) {
      const Labels& labels = offering_labels[g][o];
      OptionState option{g, o, allocatable_for(group.offerings[o], group, daemon_overhead(daemons, group, labels)),
                         {}, true, false, {}, {}, {}, {}, 0};
      option.order.reserve(candidates.size());
      for (size_t i : candidates) {
        if (fits(pending[i].pod->spec.requests, option.allocatable)) option.order.push_back(i);
      }
      // Scores computed once per pod (a stable sort's result depends only on the order).
      keyed.clear();
      for (size_t i : option.order) keyed.emplace_back(score(pending[i].pod->spec.requests, option.allocatable), i);
      std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      for (size_t k = 0; k < keyed.size(); ++k) option.order[k] = keyed[k].second;
      options.push_back(std::move(option));
    }
  }

  // 5. Expander loop: best option wins, its pods are taken, repeat.
  for (const auto& g : groups) plan.groups.push_back({g.group->name, g.current, g.in_flight, {}, 0, {}});
  // Priority is the first expander: only the highest tier that places anything needs
  // simulating, so options are visited tier by tier.
  std::stable_sort(options.begin(), options.end(), [&](const OptionState& a, const OptionState& b) {
    return groups[a.group].group->priority > groups[b.group].group->priority;
  });
  while (true) {
    OptionState* best = nullptr;
    for (size_t i = 0; i < options.size(); ++i) {
      OptionState& option = options[i];
      if (best != nullptr && groups[option.group].group->priority != groups[best->group].group->priority) break;
      if (option.order.empty()) continue;
      if (option.dirty || option.resume) {
        // Drop pods taken by earlier commits so later simulations skip them for good.
        std::erase_if(option.order, [&](size_t index) { return pending[index].placed; });
        simulate(option, pending, groups[option.group].headroom);
      }
      if (option.placed.empty()) continue;
      if (best == nullptr) {
        best = &option;
        continue;
      }
      const NodeGroup& a = *groups[option.group].group;
      const NodeGroup& b = *groups[best->group].group;
      if (std::abs(option.waste - best->waste) > 1e-9) {
        if (option.waste < best->waste) best = &option;
        continue;
      }
      const double price_a = a.offerings[option.offering].monthly_price * double(option.nodes.size());
      const double price_b = b.offerings[best->offering].monthly_price * double(best->nodes.size());
      if (std::abs(price_a - price_b) > 1e-9) {
        if (price_a < price_b) best = &option;
        continue;
      }
      if (option.placed.size() > best->placed.size()) best = &option;
    }
    if (best == nullptr) break;
    GroupState& state = groups[best->group];
    GroupScaleUp& out = plan.groups[best->group];
    const Offering& offering = state.group->offerings[best->offering];
    OfferingScaleUp* slot = nullptr;
    for (auto& a : out.add) {
      if (a.offering == offering.id) slot = &a;
    }
    if (slot == nullptr) {
      out.add.push_back({offering.id, best->allocatable, {}});
      slot = &out.add.back();
    }
    for (size_t n = 0; n < best->nodes.size(); ++n) {
      PlannedNode planned;
      planned.requested = best->used[n];
      for (size_t index : best->nodes[n]) planned.pods.push_back(pending[index].pod->ref());
      slot->nodes.push_back(std::move(planned));
    }
    state.headroom -= static_cast<int64_t>(best->nodes.size());
    for (size_t index : best->placed) pending[index].placed = true;
    const size_t chosen_group = best->group;
    for (auto& option : options) {
      if (option.dirty) continue;
      if (option.group == chosen_group) {
        option.dirty = true;
        continue;
      }
      // Still valid unless it placed a pod this commit took (pods it left unplaced had
      // no effect on its packing); then valid up to the first such pod.
      for (size_t k = 0; k < option.placed.size(); ++k) {
        if (pending[option.placed[k]].placed) {
          roll_back(option, pending, k);
          break;
        }
      }
    }
  }

  // 6. Groups below minNodes get empty nodes of their first offering.
  for (size_t g = 0; g < groups.size(); ++g) {
    const NodeGroup& group = *groups[g].group;
    GroupScaleUp& out = plan.groups[g];
    const int64_t total = out.target_nodes();
    if (total < group.min_nodes && !group.offerings.empty()) {
      out.min_nodes_add = std::min(group.min_nodes, group.max_nodes) - total;
      if (out.min_nodes_add < 0) out.min_nodes_add = 0;
      out.min_nodes_offering = group.offerings.front().id;
    }
  }

  // 7. Every pending pod left gets the reason of each group.
  for (const Pending& p : pending) {
    if (p.placed) continue;
    UnplacedPod u{p.pod->ref(), p.pod->spec.requests, {}};
    for (size_t g = 0; g < groups.size(); ++g) {
      const GroupState& state = groups[g];
      const NodeGroup& group = *state.group;
      if (group.offerings.empty()) {
        u.rejections.push_back({group.name, "", "no-offerings", "the group has no offerings"});
        continue;
      }
      if (p.age_seconds < group.scale_up.pod_age_seconds) {
        u.rejections.push_back({group.name, "", "pod-too-young",
                                "unschedulable for " + std::to_string(p.age_seconds) + "s, group waits " +
                                    std::to_string(group.scale_up.pod_age_seconds) + "s"});
        continue;
      }
      const FitResult& fit = state.class_fit[p.cls];
      if (!fit.ok()) {
        u.rejections.push_back({group.name, "", fit_failure_code(fit.failure), fit.detail});
        continue;
      }
      bool fits_some_offering = false;
      for (const auto& option : options) {
        if (option.group != g) continue;
        const Offering& offering = group.offerings[option.offering];
        if (option.allocatable.cpu_milli <= 0 || option.allocatable.memory_bytes <= 0 ||
            option.allocatable.pods <= 0) {
          u.rejections.push_back({group.name, offering.id, "offering-too-small",
                                  "reserved and DaemonSet requests leave " + describe_resources(option.allocatable)});
          continue;
        }
        const FitResult r = check_resources(p.pod->spec.requests, option.allocatable);
        if (!r.ok()) {
          u.rejections.push_back({group.name, offering.id, fit_failure_code(r.failure),
                                  r.detail + ": requests " + describe_resources(p.pod->spec.requests) +
                                      ", a new node has " + describe_resources(option.allocatable)});
        } else {
          fits_some_offering = true;
        }
      }
      if (fits_some_offering) {
        u.rejections.push_back({group.name, "", "max-nodes-reached",
                                "group at maxNodes " + std::to_string(group.max_nodes) + " (" +
                                    std::to_string(state.current) + " nodes, " + std::to_string(state.in_flight) +
                                    " in flight, " + std::to_string(plan.groups[g].nodes_to_add()) +
                                    " planned)"});
      }
    }
    plan.unplaced.push_back(std::move(u));
  }
  return plan;
}

}  // namespace ballast::nodepool
