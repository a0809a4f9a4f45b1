#include "nodepool/scheduling.h"

#include <algorithm>
#include <charconv>

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

}  // namespace ballast::nodepool
