#include "guard/owned_object.h"

#include <algorithm>
#include <iterator>

#include "guard/pdb_planner.h"
#include "kube/model/json_lookup.h"
#include "kube/model/object_meta.h"
#include "policy/tier_policy.h"

namespace ballast::guard {
namespace {

using json = nlohmann::json;
using kube::child;
using kube::string_at;

constexpr const char* kOwnerKeys[] = {"apiVersion", "kind", "name", "uid"};

bool is_true(const json* value) { return value != nullptr && value->is_boolean() && value->get<bool>(); }

bool same_owner(const json& have, const json& want) {
  return is_true(child(have, "controller")) && !is_true(child(have, "blockOwnerDeletion")) &&
         std::all_of(std::begin(kOwnerKeys), std::end(kOwnerKeys),
                     [&](const char* key) { return string_at(have, {key}) == string_at(want, {key}); });
}

}  // namespace

bool is_terminating(const json& object) {
  return kube::is_being_deleted(object) || string_at(object, {"status", "phase"}) == "Terminating";
}

json workload_owner_reference(const std::string& kind, const std::string& name, const std::string& uid) {
  return kube::OwnerReference{"apps/v1", kind, name, uid, true, false}.to_json();
}

bool is_owned_by_workload(const json& object) {
  if (kube::label(object, kManagedByLabel) != kManagedByValue) return false;
  for (const auto& owner : kube::owner_references(object)) {
    if (owner.controller && owner.api_version.starts_with("apps/") &&
        (owner.kind == "Deployment" || owner.kind == "StatefulSet")) {
      return true;
    }
  }
  return false;
}

std::string opt_out_reason(const json& workload, const std::string& item) {
  for (const json* meta : {child(workload, "metadata"), kube::path(workload, {"spec", "template", "metadata"})}) {
    if (meta == nullptr) continue;
    if (policy::defaults_off(string_at(*meta, {"annotations", policy::kDefaultsAnnotation}))) {
      return "ballast.dev/defaults is off";
    }
    if (policy::skip_lists(string_at(*meta, {"annotations", policy::kSkipAnnotation}), item)) {
      return "ballast.dev/skip lists " + item;
    }
  }
  return "";
}

bool has_controller_owner(const json& object, const json& want) {
  const json* owners = kube::path(object, {"metadata", "ownerReferences"});
  return owners != nullptr && owners->is_array() &&
         std::any_of(owners->begin(), owners->end(), [&](const json& have) { return same_owner(have, want); });
}

json with_controller_owner(const json& metadata, const json& want) {
  json owners = json::array();
  if (const json* have = child(metadata, "ownerReferences"); have != nullptr && have->is_array()) {
    for (const auto& owner : *have) {
      if (!is_true(child(owner, "controller")) && string_at(owner, {"uid"}) != string_at(want, {"uid"})) {
        owners.push_back(owner);
      }
    }
  }
  owners.push_back(want);
  return owners;
}

}  // namespace ballast::guard
