#include "guard/vpa_planner.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "guard/owned_object.h"
#include "guard/pdb_planner.h"
#include "kube/model/json_lookup.h"
#include "kube/model/object_meta.h"
#include "policy/defaulting.h"

namespace ballast::guard {
namespace {

using json = nlohmann::json;
using kube::child;
using kube::path;
using kube::string_at;

// (namespace, kind, name) of a workload.
using Target = std::tuple<std::string, std::string, std::string>;

bool is_resource(const std::string& name) { return name == "cpu" || name == "memory"; }

// The workload a scaleTargetRef / targetRef names, with KEDA's and the HPA's defaults.
std::optional<Target> target_of(const json& object, const char* field, const char* default_kind) {
  const json* ref = path(object, {"spec", field});
  const std::string ns = kube::namespace_of(object);
  if (ref == nullptr || ns.empty()) return std::nullopt;
  std::string api_version = string_at(*ref, {"apiVersion"});
  std::string kind = string_at(*ref, {"kind"});
  if (kind.empty()) kind = default_kind;
  if (api_version.empty()) api_version = "apps/v1";
  const std::string name = string_at(*ref, {"name"});
  if (name.empty() || !api_version.starts_with("apps/")) return std::nullopt;
  return Target{ns, kind, name};
}

// The resource (cpu or memory) an HPA scales on, or "". An autoscaling/v2 HPA without
// metrics scales on CPU utilization (80%).
std::string hpa_resource(const json& hpa) {
  const json* metrics = path(hpa, {"spec", "metrics"});
  if (metrics == nullptr || !metrics->is_array() || metrics->empty()) return "cpu";
  for (const auto& metric : *metrics) {
    const std::string type = string_at(metric, {"type"});
    const std::string name = type == "Resource"            ? string_at(metric, {"resource", "name"})
                             : type == "ContainerResource" ? string_at(metric, {"containerResource", "name"})
                                                           : std::string();
    if (is_resource(name)) return name;
  }
  return "";
}

// The resource (cpu or memory) a ScaledObject's triggers scale on, or "".
std::string scaled_object_resource(const json& so) {
  const json* triggers = path(so, {"spec", "triggers"});
  if (triggers == nullptr || !triggers->is_array()) return "";
  for (const auto& trigger : *triggers) {
    if (const std::string type = string_at(trigger, {"type"}); is_resource(type)) return type;
  }
  return "";
}

// Workload → "HorizontalPodAutoscaler NAME scales it on cpu" (the first one found).
std::map<Target, std::string> resource_scaled(const VpaPlannerInput& input) {
  std::map<Target, std::string> out;
  const auto add = [&](const std::vector<json>& objects, const char* kind, auto resource_of) {
    for (const auto& object : objects) {
      if (is_terminating(object)) continue;
      const auto target = target_of(object, "scaleTargetRef", "Deployment");
      const std::string resource = resource_of(object);
      if (!target || resource.empty()) continue;
      out.try_emplace(*target, std::string(kind) + " " + kube::name(object) + " scales it on " + resource);
    }
  };
  add(input.hpas, "HorizontalPodAutoscaler", hpa_resource);
  add(input.scaled_objects, "ScaledObject", scaled_object_resource);
  return out;
}

json quantities(const policy::ResourceRequests& resources) {
  json out = json::object();
  if (!resources.cpu.empty()) out["cpu"] = resources.cpu;
  if (!resources.memory.empty()) out["memory"] = resources.memory;
  return out;
}

json desired_spec(const policy::VpaRule& rule, const std::string& kind, const std::string& name) {
  json container = {{"containerName", "*"}, {"controlledResources", rule.controlled_resources}};
  if (json min = quantities(rule.min_allowed); !min.empty()) container["minAllowed"] = std::move(min);
  if (json max = quantities(rule.max_allowed); !max.empty()) container["maxAllowed"] = std::move(max);
  return {{"targetRef", {{"apiVersion", "apps/v1"}, {"kind", kind}, {"name", name}}},
          {"updatePolicy", {{"updateMode", rule.update_mode}}},
          {"resourcePolicy", {{"containerPolicies", json::array({std::move(container)})}}}};
}

// Compares only what ballast owns: its labels, its owner reference and its spec fields
// (a field another controller or the user adds, e.g. recommenders, is left alone).
bool owned_fields_match(const json& existing, const json& desired) {
  for (const auto& [key, value] : desired["metadata"]["labels"].items()) {
    if (kube::label(existing, key.c_str()) != value.get<std::string>()) return false;
  }
  if (!has_controller_owner(existing, desired["metadata"]["ownerReferences"][0])) return false;
  const json* spec = child(existing, "spec");
  if (spec == nullptr || !spec->is_object()) return false;
  for (const auto& [key, value] : desired["spec"].items()) {
    const json* have = child(*spec, key.c_str());
    if (have == nullptr || *have != value) return false;
  }
  return true;
}

json updated_vpa(const json& existing, const json& desired) {
  json out = existing;
  out.erase("status");
  json& metadata = out["metadata"];
  if (!metadata.contains("labels") || !metadata["labels"].is_object()) metadata["labels"] = json::object();
  for (const auto& [key, value] : desired["metadata"]["labels"].items()) metadata["labels"][key] = value;
  metadata["ownerReferences"] = with_controller_owner(metadata, desired["metadata"]["ownerReferences"][0]);
  for (const auto& [key, value] : desired["spec"].items()) out["spec"][key] = value;
  return out;
}

}  // namespace

VpaPlan plan_vpas(const policy::TierPolicy& policy, const VpaPlannerInput& input) {
  using Key = std::pair<std::string, std::string>;  // namespace, name
  std::map<Key, const json*> vpa_by_name;
  std::map<Target, std::string> foreign_by_target;
  for (const auto& vpa : input.vpas) {
    const std::string ns = kube::namespace_of(vpa);
    const std::string name = kube::name(vpa);
    if (ns.empty() || name.empty()) continue;
    vpa_by_name[{ns, name}] = &vpa;
    if (is_owned_by_workload(vpa)) continue;
    if (const auto target = target_of(vpa, "targetRef", ""); target) foreign_by_target.try_emplace(*target, name);
  }
  const std::map<Target, std::string> scaled = resource_scaled(input);

  VpaPlan plan;
  std::set<Key> claimed;
  std::vector<UpdateVpa> updates;
  std::vector<CreateVpa> creates;
  const auto plan_workload = [&](const json& object, policy::WorkloadKind kind, const std::string& kind_name) {
    const std::string ns = kube::namespace_of(object);
    const std::string name = kube::name(object);
    const std::string uid = kube::uid(object);
    const Key key{ns, name + kPdbNameSuffix};
    const auto note = [&](VpaNote::Reason reason, std::string message, std::string other = {}) {
      plan.notes.push_back(VpaNote{reason, ns, kind_name, name, std::move(other), std::move(message)});
    };
    if (ns.empty() || name.empty()) return note(VpaNote::Reason::kInvalidObject, "ballast: workload without name ignored");
    // Going away: garbage collection removes our VPA; touch nothing.
    if (is_terminating(object)) {
      claimed.insert(key);
      return;
    }
    const policy::TierChoice choice = policy::select_tier(object, kind, ns, policy);
    if (!choice.tier->vpa) return;  // silent: most tiers have no VPA, and that is not news
    const policy::VpaRule& rule = *choice.tier->vpa;
    if (const std::string why = opt_out_reason(object, "vpa"); !why.empty()) {
      return note(VpaNote::Reason::kOptedOut, "ballast: no VPA: " + why);
    }
    if (uid.empty()) return note(VpaNote::Reason::kInvalidObject, "ballast: no VPA: the workload has no uid to own it");
    const Target target{ns, kind_name, name};
    if (const auto it = scaled.find(target); it != scaled.end()) {
      return note(VpaNote::Reason::kResourceScaled,
                  "ballast: no VPA: " + it->second + " (VPA and a cpu/memory autoscaler would fight)", it->second);
    }
    if (const auto it = foreign_by_target.find(target); it != foreign_by_target.end()) {
      return note(VpaNote::Reason::kForeignVpa, "ballast: no VPA: VerticalPodAutoscaler " + it->second +
                                                    " already targets it", it->second);
    }
    const auto existing_it = vpa_by_name.find(key);
    const json* existing = existing_it == vpa_by_name.end() ? nullptr : existing_it->second;
    if ((existing != nullptr && !is_owned_by_workload(*existing)) || claimed.count(key) > 0) {
      return note(VpaNote::Reason::kNameTaken, "ballast: no VPA: " + key.second + " exists and is not this workload's",
                  key.second);
    }
    claimed.insert(key);
    const json desired = {
        {"apiVersion", "autoscaling.k8s.io/v1"},
        {"kind", "VerticalPodAutoscaler"},
        {"metadata",
         {{"name", key.second},
          {"namespace", ns},
          {"labels", {{kManagedByLabel, kManagedByValue}, {policy::kTierLabel, choice.tier->name}}},
          {"ownerReferences", json::array({workload_owner_reference(kind_name, name, uid)})}}},
        {"spec", desired_spec(rule, kind_name, name)}};
    const std::string reason = "tier " + choice.tier->name + " (" + choice.source + "): updateMode " + rule.update_mode;
    if (existing == nullptr) {
      creates.push_back(CreateVpa{desired, reason});
    } else if (!owned_fields_match(*existing, desired)) {
      updates.push_back(
          UpdateVpa{ns, key.second, kube::resource_version(*existing), updated_vpa(*existing, desired), reason});
    }
  };
  for (const auto& object : input.deployments) plan_workload(object, policy::WorkloadKind::kDeployment, "Deployment");
  for (const auto& object : input.stateful_sets) {
    plan_workload(object, policy::WorkloadKind::kStatefulSet, "StatefulSet");
  }

  for (const auto& [key, vpa] : vpa_by_name) {
    if (!is_owned_by_workload(*vpa) || claimed.count(key) > 0) continue;
    plan.actions.emplace_back(std::in_place_type<DeleteVpa>,
                              DeleteVpa{key.first, key.second, kube::uid(*vpa), kube::resource_version(*vpa),
                                        "no workload the policy covers wants it (opted out, tier without vpa, scaled "
                                        "on cpu or memory, another VPA targets it, or the workload is gone)"});
  }
  for (auto& update : updates) plan.actions.emplace_back(std::in_place_type<UpdateVpa>, std::move(update));
  for (auto& create : creates) plan.actions.emplace_back(std::in_place_type<CreateVpa>, std::move(create));
  return plan;
}

}  // namespace ballast::guard
