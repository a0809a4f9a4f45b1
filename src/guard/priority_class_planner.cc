#include "guard/priority_class_planner.h"

#include <map>

#include "guard/pdb_planner.h"
#include "kube/model/json_lookup.h"

namespace ballast::guard {

using json = nlohmann::json;

PriorityClassPlan plan_priority_classes(const policy::TierPolicy& policy, const std::vector<json>& existing) {
  std::map<std::string, const json*> by_name;
  std::string cluster_default;
  for (const auto& object : existing) {
    const json* name = kube::path(object, {"metadata", "name"});
    if (name == nullptr || !name->is_string()) continue;
    by_name[name->get<std::string>()] = &object;
    const json* global = kube::child(object, "globalDefault");
    if (global != nullptr && global->is_boolean() && global->get<bool>()) cluster_default = name->get<std::string>();
  }

  PriorityClassPlan plan;
  for (const auto& [name, spec] : policy.priority_classes) {
    if (const auto it = by_name.find(name); it != by_name.end()) {
      const json* value = kube::child(*it->second, "value");
      const std::optional<int64_t> have =
          value != nullptr && value->is_number_integer() ? std::optional<int64_t>(value->get<int64_t>()) : std::nullopt;
      if (have != spec.value) {
        plan.conflicts.push_back(PriorityClassConflict{
            name, spec.value, have,
            "ballast: PriorityClass " + name + " exists with value " + (have ? std::to_string(*have) : "(none)") +
                ", the policy wants " + std::to_string(spec.value) + "; left as it is (value is immutable)"});
      }
      continue;
    }
    CreatePriorityClass create;
    const bool global_default = spec.global_default && (cluster_default.empty() || cluster_default == name);
    if (spec.global_default && !global_default) {
      create.note = "ballast: PriorityClass " + name + " created without globalDefault: " + cluster_default +
                    " is already the cluster's default";
    }
    create.priority_class = {{"apiVersion", "scheduling.k8s.io/v1"},
                             {"kind", "PriorityClass"},
                             {"metadata",
                              {{"name", name},
                               {"labels", {{kManagedByLabel, kManagedByValue}, {"app.kubernetes.io/part-of", "ballast"}}}}},
                             {"value", spec.value},
                             {"globalDefault", global_default},
                             {"description", spec.description}};
    if (!spec.preemption_policy.empty()) create.priority_class["preemptionPolicy"] = spec.preemption_policy;
    plan.creates.push_back(std::move(create));
  }
  return plan;
}

}  // namespace ballast::guard
