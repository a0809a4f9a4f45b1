#include "nodepool/scheduling.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

namespace ballast::nodepool {
namespace {

const Taint kCordonTaint{"node.kubernetes.io/unschedulable", "", "NoSchedule"};

bool parse_int(const std::string& text, int64_t& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool requirement_matches(const SelectorRequirement& r, const Labels& labels) {
  const auto it = labels.find(r.key);
  const bool has = it != labels.end();
  if (r.op == "Exists") return has;
  if (r.op == "DoesNotExist") return !has;
  if (r.op == "In") return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
  if (r.op == "NotIn") return !has || std::find(r.values.begin(), r.values.end(), it->second) == r.values.end();
  if (r.op == "Gt" || r.op == "Lt") {
    int64_t have = 0;
    int64_t want = 0;
    if (!has || r.values.size() != 1 || !parse_int(it->second, have) || !parse_int(r.values[0], want)) return false;
    return r.op == "Gt" ? have > want : have < want;
  }
  return false;
}

}  // namespace

const char* fit_failure_code(FitFailure failure) {
  switch (failure) {
    case FitFailure::kNone: return "fits";
    case FitFailure::kNodeSelector: return "node-selector";
    case FitFailure::kNodeAffinity: return "node-affinity";
    case FitFailure::kVolumeNodeAffinity: return "volume-node-affinity";
    case FitFailure::kTaint: return "taint";
    case FitFailure::kInsufficientCpu: return "insufficient-cpu";
    case FitFailure::kInsufficientMemory: return "insufficient-memory";
    case FitFailure::kTooManyPods: return "too-many-pods";
    case FitFailure::kPodAntiAffinity: return "pod-anti-affinity";
    case FitFailure::kPodAffinity: return "pod-affinity";
    case FitFailure::kTopologySpread: return "topology-spread";
  }
  return "unknown";
}

bool node_selector_term_matches(const NodeSelectorTerm& term, const Labels& labels, const std::string& node_name) {
  if (term.match_expressions.empty() && term.match_fields.empty()) return false;  // an empty term matches nothing
  for (const auto& r : term.match_expressions) {
    if (!requirement_matches(r, labels)) return false;
  }
  for (const auto& r : term.match_fields) {
    const Labels fields = r.key == "metadata.name" && !node_name.empty() ? Labels{{r.key, node_name}} : Labels{};
    if (!requirement_matches(r, fields)) return false;
  }
  return true;
}

bool matches_node_affinity(const PodSchedulingSpec& pod, const Labels& labels, const std::string& node_name) {
  for (const auto& [k, v] : pod.node_selector) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return pod.required_affinity.empty() ||
         std::any_of(pod.required_affinity.begin(), pod.required_affinity.end(),
                     [&](const NodeSelectorTerm& term) { return node_selector_term_matches(term, labels, node_name); });
}

FitResult check_static(const PodSchedulingSpec& pod, const NodeShape& node) {
  static const Labels kNoLabels;
  const Labels& labels = node.labels != nullptr ? *node.labels : kNoLabels;
  for (const auto& [k, v] : pod.node_selector) {
    const auto it = labels.find(k);
    if (it == labels.end() || it->second != v) {
      return {FitFailure::kNodeSelector, "nodeSelector " + k + "=" + v};
    }
  }
  if (!pod.required_affinity.empty()) {
    bool any = false;
    for (const auto& term : pod.required_affinity) {
      if (node_selector_term_matches(term, labels, node.name)) {
        any = true;
        break;
      }
    }
    if (!any) {
      std::string detail = "required node affinity";
      const auto& first = pod.required_affinity.front();
      if (!first.match_expressions.empty()) {
        const auto& r = first.match_expressions.front();
        detail += " (" + r.key + " " + r.op;
        for (const auto& v : r.values) detail += " " + v;
        detail += ")";
      }
      return {FitFailure::kNodeAffinity, detail};
    }
  }
  for (const auto& terms : pod.volume_affinity) {
    const bool any = std::any_of(terms.begin(), terms.end(), [&](const NodeSelectorTerm& term) {
      return node_selector_term_matches(term, labels, node.name);
    });
    if (!any) return {FitFailure::kVolumeNodeAffinity, "volume node affinity conflict"};
  }
  if (node.unschedulable && !tolerates(pod.tolerations, kCordonTaint)) {
    return {FitFailure::kTaint, "node is cordoned (" + kCordonTaint.str() + ")"};
  }
  if (node.taints != nullptr) {
    for (const auto& taint : *node.taints) {
      if (taint.effect == "PreferNoSchedule") continue;
      if (!tolerates(pod.tolerations, taint)) return {FitFailure::kTaint, "taint " + taint.str()};
    }
  }
  return {};
}

FitResult check_resources(const Resources& request, const Resources& free) {
  if (request.pods > free.pods) return {FitFailure::kTooManyPods, "Too many pods"};
  if (request.cpu_milli > free.cpu_milli) return {FitFailure::kInsufficientCpu, "Insufficient cpu"};
  if (request.memory_bytes > free.memory_bytes) return {FitFailure::kInsufficientMemory, "Insufficient memory"};
  return {};
}

std::string scheduling_key(const PodSchedulingSpec& s) {
  std::string key;
  const auto add_terms = [&key](const std::vector<NodeSelectorTerm>& terms) {
    for (const auto& term : terms) {
      for (const auto& r : term.match_expressions) {
        key += r.key + " " + r.op;
        for (const auto& v : r.values) key += " " + v;
        key += ";";
      }
      for (const auto& r : term.match_fields) {
        key += "f:" + r.key + " " + r.op;
        for (const auto& v : r.values) key += " " + v;
        key += ";";
      }
      key += "/";
    }
  };
  for (const auto& [k, v] : s.node_selector) key += k + "=" + v + ",";
  key += "|";
  add_terms(s.required_affinity);
  key += "|";
  for (const auto& terms : s.volume_affinity) {
    add_terms(terms);
    key += "&";
  }
  key += "|";
  for (const auto& t : s.tolerations) key += t.key + " " + t.op + " " + t.value + " " + t.effect + ";";
  return key;
}

const std::vector<size_t>& FeasibleNodes::for_pod(const PodSchedulingSpec& pod) {
  if (const auto it = by_spec_.find(&pod); it != by_spec_.end()) return *it->second;
  auto [it, added] = by_key_.try_emplace(scheduling_key(pod));
  if (added) {
    for (size_t i : order_) {
      if (check_static(pod, nodes_[i].shape).ok()) it->second.push_back(i);
    }
  }
  by_spec_.emplace(&pod, &it->second);
  return it->second;
}

size_t PodTopology::add_node(const Labels* labels, const std::vector<Taint>* taints, std::string name) {
  nodes_.push_back({labels, taints, std::move(name), false, {}});
  return nodes_.size() - 1;
}

void PodTopology::pop_node() { nodes_.pop_back(); }

void PodTopology::place(size_t node, const Pod& pod) {
  nodes_[node].pods.push_back(&pod);
  if (!pod.required_anti_affinity.empty()) anti_pods_.emplace_back(node, &pod);
}

void PodTopology::unplace(size_t node) {
  const Pod* pod = nodes_[node].pods.back();
  nodes_[node].pods.pop_back();
  if (!pod->required_anti_affinity.empty()) {
    // Undone newest first, so it is the last anti-affinity pod of this node.
    for (auto it = anti_pods_.rbegin(); it != anti_pods_.rend(); ++it) {
      if (it->first == node && it->second == pod) {
        anti_pods_.erase(std::next(it).base());
        break;
      }
    }
  }
}

const std::string* PodTopology::domain(size_t node, const std::string& key) const {
  static const std::string kHostname = "kubernetes.io/hostname";
  const auto it = nodes_[node].labels->find(key);
  if (it != nodes_[node].labels->end()) return &it->second;
  return key == kHostname ? &nodes_[node].name : nullptr;  // a node without the label is in no domain
}

template <typename Match>
bool PodTopology::domain_has(size_t node, const std::string& key, size_t ignore, const Pod& self,
                             Match&& match) const {
  const std::string* value = domain(node, key);
  if (value == nullptr) return false;
  for (size_t j = 0; j < nodes_.size(); ++j) {
    if (!counts(j, ignore)) continue;
    const std::string* other = j == node ? value : domain(j, key);
    if (other == nullptr || *other != *value) continue;
    for (const Pod* q : nodes_[j].pods) {
      if (q != &self && match(*q)) return true;
    }
  }
  return false;
}

FitResult PodTopology::check(const Pod& pod, size_t node, size_t ignore) const {
  if (!pod.has_inter_pod_terms() && anti_pods_.empty()) return {};
  if (FitResult r = check_anti_affinity(pod, node, ignore); !r.ok()) return r;
  if (FitResult r = check_affinity(pod, node, ignore); !r.ok()) return r;
  return check_spread(pod, node, ignore);
}

// Both ways: the pod's terms against the pods in the node's domains, and every placed
// pod's terms against the pod.
FitResult PodTopology::check_anti_affinity(const Pod& pod, size_t node, size_t ignore) const {
  for (const auto& term : pod.required_anti_affinity) {
    if (domain_has(node, term.topology_key, ignore, pod,
                   [&](const Pod& q) { return term.selects(pod.ns, q.ns, q.labels); })) {
      return {FitFailure::kPodAntiAffinity, "a pod its anti-affinity selects runs in its " + term.topology_key +
                                                " domain"};
    }
  }
  for (const auto& [j, q] : anti_pods_) {
    if (!counts(j, ignore) || q == &pod) continue;
    for (const auto& term : q->required_anti_affinity) {
      const std::string* here = domain(node, term.topology_key);
      const std::string* there = domain(j, term.topology_key);
      if (here != nullptr && there != nullptr && *here == *there && term.selects(q->ns, pod.ns, pod.labels)) {
        return {FitFailure::kPodAntiAffinity,
                "pod " + q->ns + "/" + q->name + " in its " + term.topology_key + " domain has anti-affinity to it"};
      }
    }
  }
  return {};
}

// Every term needs a matching pod in the node's domain; a pod that no pod anywhere
// matches may start the group if it matches its own term (the scheduler's rule, so the
// first replica of a self-affine set can land).
FitResult PodTopology::check_affinity(const Pod& pod, size_t node, size_t ignore) const {
  for (const auto& term : pod.required_pod_affinity) {
    const auto selected = [&](const Pod& q) { return term.selects(pod.ns, q.ns, q.labels); };
    if (domain(node, term.topology_key) == nullptr) {
      return {FitFailure::kPodAffinity, "node has no " + term.topology_key + " label"};
    }
    if (domain_has(node, term.topology_key, ignore, pod, selected)) continue;
    bool anywhere = false;
    for (size_t j = 0; j < nodes_.size() && !anywhere; ++j) {
      if (!counts(j, ignore)) continue;
      anywhere = std::any_of(nodes_[j].pods.begin(), nodes_[j].pods.end(),
                             [&](const Pod* q) { return q != &pod && selected(*q); });
    }
    if (anywhere || !selected(pod)) {
      return {FitFailure::kPodAffinity, "no pod its affinity selects runs in its " + term.topology_key + " domain"};
    }
  }
  return {};
}

// PodTopologySpread with DoNotSchedule: domains are the key's values on the nodes the pod
// may use (nodeAffinityPolicy/nodeTaintsPolicy), counts are the matching pods there.
FitResult PodTopology::check_spread(const Pod& pod, size_t node, size_t ignore) const {
  for (const auto& c : pod.topology_spread) {
    const std::string* own = domain(node, c.topology_key);
    if (own == nullptr) return {FitFailure::kTopologySpread, "node has no " + c.topology_key + " label"};
    std::map<std::string, int64_t> count;
    for (size_t j = 0; j < nodes_.size(); ++j) {
      if (!counts(j, ignore)) continue;
      const TopoNode& n = nodes_[j];
      const std::string* value = domain(j, c.topology_key);
      if (value == nullptr) continue;
      if (c.honor_node_affinity && !matches_node_affinity(pod.spec, *n.labels, n.name)) continue;
      if (c.honor_node_taints && n.taints != nullptr &&
          std::any_of(n.taints->begin(), n.taints->end(), [&](const Taint& t) {
            return t.effect != "PreferNoSchedule" && !tolerates(pod.spec.tolerations, t);
          })) {
        continue;
      }
      int64_t& k = count[*value];
      for (const Pod* q : n.pods) {
        if (q != &pod && q->ns == pod.ns && c.selector.matches(q->labels)) ++k;
      }
    }
    int64_t min = std::numeric_limits<int64_t>::max();
    for (const auto& [value, k] : count) min = std::min(min, k);
    if (count.empty() || static_cast<int64_t>(count.size()) < c.min_domains) min = 0;
    const auto it = count.find(*own);
    const int64_t here = (it == count.end() ? 0 : it->second) + (c.selector.matches(pod.labels) ? 1 : 0);
    if (here - min > c.max_skew) {
      return {FitFailure::kTopologySpread, c.topology_key + " " + *own + " would have " + std::to_string(here) +
                                               " matching pods, the emptiest domain " + std::to_string(min) +
                                               " (maxSkew " + std::to_string(c.max_skew) + ")"};
    }
  }
  return {};
}

}  // namespace ballast::nodepool
