#include "policy/defaulting.h"

#include <set>

#include "kube/model/json_lookup.h"

namespace ballast::policy {
namespace {

using kube::child;
using kube::path;

using json = nlohmann::json;

json* mutable_path(json& root, std::initializer_list<const char*> keys) {
  return const_cast<json*>(path(root, keys));
}

std::string string_at(const json& root, std::initializer_list<const char*> keys) {
  const json* node = path(root, keys);
  return node != nullptr && node->is_string() ? node->get<std::string>() : std::string();
}

bool has_annotation(const json& metadata, const char* key) {
  const json* annotations = child(metadata, "annotations");
  return annotations != nullptr && annotations->is_object() && annotations->contains(key);
}

std::string annotation(const json& metadata, const char* key) {
  const json* annotations = child(metadata, "annotations");
  const json* value = annotations != nullptr ? child(*annotations, key) : nullptr;
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

bool has_controller_owner(const json& object) {
  const json* owners = path(object, {"metadata", "ownerReferences"});
  if (owners == nullptr || !owners->is_array()) return false;
  for (const auto& owner : *owners) {
    const json* controller = child(owner, "controller");
    if (controller != nullptr && controller->is_boolean() && controller->get<bool>()) return true;
  }
  return false;
}

// The parts of the defaults `ballast.dev/skip` can switch off ("pdb" belongs to the guard).
struct Skips {
  bool spread = false;
  bool priority = false;
  bool affinity = false;
  bool resources = false;
};

void read_skips(const std::string& list, Skips& skips, std::vector<std::string>& warnings) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item == "spread") {
      skips.spread = true;
    } else if (item == "priority") {
      skips.priority = true;
    } else if (item == "affinity") {
      skips.affinity = true;
    } else if (item == "resources") {
      skips.resources = true;
    } else if (!item.empty() && item != "pdb") {
      warnings.push_back("ballast: unknown entry \"" + item + "\" in " + kSkipAnnotation + " ignored");
    }
    start = end + 1;
  }
}

bool selector_uses_key(const json& selector, const char* key) {
  const json* labels = child(selector, "matchLabels");
  if (labels != nullptr && labels->is_object() && labels->contains(key)) return true;
  const json* expressions = child(selector, "matchExpressions");
  if (expressions == nullptr || !expressions->is_array()) return false;
  for (const auto& expression : *expressions) {
    const json* expression_key = child(expression, "key");
    if (expression_key != nullptr && *expression_key == key) return true;
  }
  return false;
}

// The selector that finds this workload's own pods: the workload's spec.selector (both
// matchLabels and matchExpressions), or a bare Pod's own labels. Null when there is none.
json pod_selector(const json& object, WorkloadKind kind) {
  json selector = json::object();
  if (kind == WorkloadKind::kPod) {
    const json* labels = path(object, {"metadata", "labels"});
    if (labels == nullptr || !labels->is_object() || labels->empty()) return nullptr;
    selector["matchLabels"] = *labels;
    return selector;
  }
  const json* source = path(object, {"spec", "selector"});
  if (source == nullptr || !source->is_object()) return nullptr;
  for (const char* key : {"matchLabels", "matchExpressions"}) {
    const json* part = child(*source, key);
    if (part != nullptr && !part->empty()) selector[key] = *part;
  }
  if (selector.empty()) return nullptr;
  return selector;
}

// One constraint per rule, for each topology key the pod spec does not already spread on.
void default_spread(json& pod_spec, const Tier& tier, const json& selector, WorkloadKind kind,
                    std::vector<std::string>& warnings) {
  const json* existing = child(pod_spec, "topologySpreadConstraints");
  if (existing != nullptr && !existing->is_array()) return;
  std::set<std::string> keys;
  if (existing != nullptr) {
    for (const auto& constraint : *existing) keys.insert(string_at(constraint, {"topologyKey"}));
  }
  for (const SpreadRule& rule : tier.spread) {
    if (keys.count(rule.topology_key) > 0) continue;
    json constraint = {{"maxSkew", rule.max_skew},
                       {"topologyKey", rule.topology_key},
                       {"whenUnsatisfiable", rule.when_unsatisfiable},
                       {"labelSelector", selector}};
    // Without it a rollout counts old and new ReplicaSets' pods together and skews (KEP-3243);
    // validation requires the key to be absent from labelSelector.
    if (kind == WorkloadKind::kDeployment && !selector_uses_key(selector, "pod-template-hash")) {
      constraint["matchLabelKeys"] = json::array({"pod-template-hash"});
    }
    if (rule.honor_taints && rule.when_unsatisfiable == "DoNotSchedule") constraint["nodeTaintsPolicy"] = "Honor";
    pod_spec["topologySpreadConstraints"].push_back(std::move(constraint));
    warnings.push_back("ballast: added topology spread on " + rule.topology_key + " (" + rule.when_unsatisfiable +
                       ", tier " + tier.name + ")");
  }
}

// The topology keys of the pod spec's anti-affinity terms, required and preferred; false
// when the affinity is of a shape ballast does not extend.
bool anti_affinity_keys(const json& pod_spec, std::set<std::string>& keys) {
  const json* affinity = child(pod_spec, "affinity");
  if (affinity == nullptr) return true;
  if (!affinity->is_object()) return false;
  const json* anti = child(*affinity, "podAntiAffinity");
  if (anti == nullptr) return true;
  if (!anti->is_object()) return false;
  const json* required = child(*anti, "requiredDuringSchedulingIgnoredDuringExecution");
  const json* preferred = child(*anti, "preferredDuringSchedulingIgnoredDuringExecution");
  if ((required != nullptr && !required->is_array()) || (preferred != nullptr && !preferred->is_array())) return false;
  if (required != nullptr) {
    for (const auto& term : *required) keys.insert(string_at(term, {"topologyKey"}));
  }
  if (preferred != nullptr) {
    for (const auto& term : *preferred) keys.insert(string_at(term, {"podAffinityTerm", "topologyKey"}));
  }
  return true;
}

// One term per rule, for each topology key no anti-affinity term (of either kind) uses yet.
// Only the podAntiAffinity lists are appended to: a user's nodeAffinity or podAffinity
// next to them survives.
void default_anti_affinity(json& pod_spec, const Tier& tier, const json& selector,
                           std::vector<std::string>& warnings) {
  std::set<std::string> keys;
  if (!anti_affinity_keys(pod_spec, keys)) return;
  for (const AntiAffinityRule& rule : tier.anti_affinity) {
    if (keys.count(rule.topology_key) > 0) continue;
    const json term = {{"labelSelector", selector}, {"topologyKey", rule.topology_key}};
    json& anti = pod_spec["affinity"]["podAntiAffinity"];
    if (rule.required) {
      anti["requiredDuringSchedulingIgnoredDuringExecution"].push_back(term);
    } else {
      anti["preferredDuringSchedulingIgnoredDuringExecution"].push_back(
          {{"weight", rule.weight}, {"podAffinityTerm", term}});
    }
    warnings.push_back("ballast: added " + std::string(rule.required ? "required" : "preferred") +
                       " pod anti-affinity on " + rule.topology_key + " (tier " + tier.name + ")");
  }
}

// The Priority admission plugin runs before the webhooks: a Pod that named no class reaches
// us with the cluster's default already resolved (the policy's globalDefault class and its
// value, or no class and priority 0). That is not the user's choice.
bool priority_from_cluster_default(const json& pod_spec, const TierPolicy& policy) {
  const json* name = child(pod_spec, "priorityClassName");
  const json* value = child(pod_spec, "priority");
  const std::string class_name = name != nullptr && name->is_string() ? name->get<std::string>() : "";
  if (class_name.empty()) return value == nullptr || (value->is_number_integer() && value->get<long long>() == 0);
  const auto known = policy.priority_classes.find(class_name);
  return known != policy.priority_classes.end() && known->second.global_default && value != nullptr &&
         value->is_number_integer() && value->get<long long>() == known->second.value;
}

void default_priority(json& pod_spec, bool is_pod, const Tier& tier, std::string_view ns, const TierPolicy& policy,
                      std::vector<std::string>& warnings) {
  if (tier.priority_class.empty()) return;
  const json* current = child(pod_spec, "priorityClassName");
  const bool unset = current == nullptr || (current->is_string() && current->get<std::string>().empty());
  // A template's integer priority next to a class name is rejected by the Priority plugin.
  if (!is_pod && (!unset || child(pod_spec, "priority") != nullptr)) return;
  // A Pod's class was resolved by the plugin: replacing it means giving the value and
  // preemptionPolicy the plugin computes for the new class (it checks them when reinvoked),
  // so only classes whose values the policy knows are set.
  const auto resolved = policy.priority_classes.find(tier.priority_class);
  if (is_pod && (!priority_from_cluster_default(pod_spec, policy) || resolved == policy.priority_classes.end())) return;
  if (current != nullptr && current->is_string() && current->get<std::string>() == tier.priority_class) return;
  if (!policy.may_use_priority_class(ns, tier.priority_class)) {
    warnings.push_back("ballast: priorityClassName " + tier.priority_class + " of tier " + tier.name +
                       " is not allowed in namespace " + std::string(ns) + "; left unset");
    return;
  }
  pod_spec["priorityClassName"] = tier.priority_class;
  if (is_pod) {
    const PriorityClassSpec& spec = resolved->second;
    pod_spec["priority"] = spec.value;
    pod_spec["preemptionPolicy"] = spec.preemption_policy.empty() ? "PreemptLowerPriority" : spec.preemption_policy;
  }
  warnings.push_back("ballast: set priorityClassName " + tier.priority_class + " (tier " + tier.name + ")");
}

// Requests only for containers that set none, and never for a resource with a limit:
// Kubernetes defaults such a request to the limit, and ours could exceed it. The tier's
// limits go with them only on containers that set no limit either.
void default_requests(json& pod_spec, const Tier& tier, std::vector<std::string>& warnings) {
  json* containers = mutable_path(pod_spec, {"containers"});
  if (containers == nullptr || !containers->is_array()) return;
  std::string names;
  bool with_limits = false;
  for (auto& container : *containers) {
    if (!container.is_object()) continue;
    const json* resources = child(container, "resources");
    if (resources != nullptr && !resources->is_object()) continue;
    const json* requests = resources != nullptr ? child(*resources, "requests") : nullptr;
    if (requests != nullptr && (!requests->is_object() || !requests->empty())) continue;
    const json* limits = resources != nullptr ? child(*resources, "limits") : nullptr;
    if (limits != nullptr && !limits->is_object()) continue;
    json added = json::object();
    for (const auto& [resource, quantity] : {std::pair{"cpu", &tier.requests.cpu}, {"memory", &tier.requests.memory}}) {
      if (quantity->empty() || (limits != nullptr && limits->contains(resource))) continue;
      added[resource] = *quantity;
    }
    // Limits only where the container left resources wholly to the platform.
    json added_limits = json::object();
    if (limits == nullptr || limits->empty()) {
      for (const auto& [resource, quantity] : {std::pair{"cpu", &tier.limits.cpu}, {"memory", &tier.limits.memory}}) {
        if (!quantity->empty()) added_limits[resource] = *quantity;
      }
    }
    if (added.empty() && added_limits.empty()) continue;
    if (!added.empty()) container["resources"]["requests"] = std::move(added);
    if (!added_limits.empty()) {
      container["resources"]["limits"] = std::move(added_limits);
      with_limits = true;
    }
    names += (names.empty() ? "" : ",") + string_at(container, {"name"});
  }
  if (names.empty()) return;
  if (names.size() > 40) names = names.substr(0, 37) + "...";
  warnings.push_back("ballast: set starting requests" + std::string(with_limits ? " and limits" : "") +
                     " for containers " + names + " (tier " + tier.name + ")");
}

}  // namespace

const json* pod_template_of(const json& object, WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kDeployment:
    case WorkloadKind::kStatefulSet:
    case WorkloadKind::kJob: return path(object, {"spec", "template"});
    case WorkloadKind::kCronJob: return path(object, {"spec", "jobTemplate", "spec", "template"});
    case WorkloadKind::kPod:
    case WorkloadKind::kOther: return nullptr;
  }
  return nullptr;
}

std::string pod_spec_pointer(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kDeployment:
    case WorkloadKind::kStatefulSet:
    case WorkloadKind::kJob: return "/spec/template/spec";
    case WorkloadKind::kCronJob: return "/spec/jobTemplate/spec/template/spec";
    case WorkloadKind::kPod: return "/spec";
    case WorkloadKind::kOther: return "";
  }
  return "";
}

WorkloadKind workload_kind(std::string_view group, std::string_view kind) {
  if (group == "apps" && kind == "Deployment") return WorkloadKind::kDeployment;
  if (group == "apps" && kind == "StatefulSet") return WorkloadKind::kStatefulSet;
  if (group.empty() && kind == "Pod") return WorkloadKind::kPod;
  if (group == "batch" && kind == "Job") return WorkloadKind::kJob;
  if (group == "batch" && kind == "CronJob") return WorkloadKind::kCronJob;
  return WorkloadKind::kOther;
}

TierChoice select_tier(const json& object, WorkloadKind kind, std::string_view ns, const TierPolicy& policy) {
  TierChoice choice;
  const auto from_label = [&](const json* labels, const char* source) {
    const json* value = labels != nullptr ? child(*labels, kTierLabel) : nullptr;
    if (value == nullptr) return false;
    const std::string name = value->is_string() ? value->get<std::string>() : value->dump();
    choice.tier = policy.find_tier(name);
    if (choice.tier == nullptr) {
      choice.warnings.push_back("ballast: unknown tier \"" + name.substr(0, 32) + "\" in " + source + " ignored");
      return false;
    }
    choice.source = source;
    return true;
  };
  if (from_label(path(object, {"metadata", "labels"}), "workload label")) return choice;
  const json* pod_template = pod_template_of(object, kind);
  if (pod_template != nullptr && from_label(path(*pod_template, {"metadata", "labels"}), "pod template label")) {
    return choice;
  }
  if (const std::string* name = policy.namespace_tier(ns); name != nullptr) {
    choice.tier = policy.find_tier(*name);
    choice.source = "namespace rule";
  } else if (kind == WorkloadKind::kStatefulSet) {
    choice.tier = policy.find_tier(policy.statefulset_tier);
    choice.source = "kind";
  } else {
    choice.tier = policy.find_tier(policy.default_tier);
    choice.source = "default";
  }
  return choice;
}

Defaulted apply_defaults(const json& object, WorkloadKind kind, std::string_view ns, const TierPolicy& policy) {
  Defaulted result{object, {}, {}};
  if (kind == WorkloadKind::kOther || !object.is_object()) return result;
  const json* metadata = child(object, "metadata");
  if (metadata == nullptr || !metadata->is_object()) return result;
  const bool is_pod = kind == WorkloadKind::kPod;
  // Mirror pods are the kubelet's static pods: the apiserver copy cannot change them.
  // Controller-owned pods follow their template; defaulting them makes them drift.
  if (is_pod && (has_annotation(*metadata, "kubernetes.io/config.mirror") || has_controller_owner(object))) {
    return result;
  }
  const json* pod_template = pod_template_of(object, kind);
  const json* template_metadata = pod_template != nullptr ? child(*pod_template, "metadata") : nullptr;
  for (const json* meta : {metadata, template_metadata}) {
    if (meta != nullptr && defaults_off(annotation(*meta, kDefaultsAnnotation))) return result;
  }
  const json* spec_node = is_pod ? path(result.object, {"spec"}) : pod_template != nullptr ? child(*pod_template, "spec") : nullptr;
  // The same place in the copy we mutate.
  json* pod_spec = spec_node == nullptr ? nullptr : &result.object[json::json_pointer(pod_spec_pointer(kind))];
  if (pod_spec == nullptr || !pod_spec->is_object()) return result;

  TierChoice choice = select_tier(object, kind, ns, policy);
  result.warnings = std::move(choice.warnings);
  const Tier& tier = *choice.tier;
  Skips skips;
  for (const json* meta : {metadata, template_metadata}) {
    if (meta != nullptr && has_annotation(*meta, kSkipAnnotation)) {
      read_skips(annotation(*meta, kSkipAnnotation), skips, result.warnings);
    }
  }

  const json selector = pod_selector(object, kind);
  // A Job's pods run to completion: spreading them only delays them.
  const bool runs_to_completion = kind == WorkloadKind::kJob || kind == WorkloadKind::kCronJob;
  const bool spread = !tier.spread.empty() && !skips.spread && !runs_to_completion;
  const bool anti_affinity = !tier.anti_affinity.empty() && !skips.affinity && !runs_to_completion;
  if (spread || anti_affinity) {
    if (selector.is_null()) {
      result.warnings.push_back("ballast: no selector or labels to spread by; spread and anti-affinity left unset");
    } else {
      if (spread) default_spread(*pod_spec, tier, selector, kind, result.warnings);
      if (anti_affinity) default_anti_affinity(*pod_spec, tier, selector, result.warnings);
    }
  }
  if (!skips.priority) default_priority(*pod_spec, is_pod, tier, ns, policy, result.warnings);
  if (!skips.resources) default_requests(*pod_spec, tier, result.warnings);

  json& object_metadata = result.object["metadata"];
  json* annotations = mutable_path(object_metadata, {"annotations"});
  if (annotations == nullptr) {
    object_metadata["annotations"] = json::object();
    annotations = &object_metadata["annotations"];
  }
  if (annotations->is_object()) (*annotations)[kAppliedTierAnnotation] = tier.name;
  result.tier = tier.name;
  return result;
}

}  // namespace ballast::policy
