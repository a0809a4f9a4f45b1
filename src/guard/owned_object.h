#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ballast::guard {

// What the guard's per-workload objects (PDBs, VPAs) share: a controller owner reference to
// the Deployment or StatefulSet, so garbage collection deletes them with it.

// Being deleted (deletionTimestamp), or a Namespace in phase Terminating.
bool is_terminating(const nlohmann::json& object);

// The ownerReferences entry ballast writes: controller, no blockOwnerDeletion (that needs
// the workloads' finalizers permission).
nlohmann::json workload_owner_reference(const std::string& kind, const std::string& name, const std::string& uid);

// Ours only with both marks: the managed-by label and a controller reference to an apps/
// Deployment or StatefulSet. A copied manifest with the label alone is never touched.
bool is_owned_by_workload(const nlohmann::json& object);

// Why the workload opts out of the guard's `item` ("pdb", "vpa"): "ballast.dev/defaults is
// off" or "ballast.dev/skip lists <item>" (on the workload or its pod template), or "".
std::string opt_out_reason(const nlohmann::json& workload, const std::string& item);

// True when `object`'s ownerReferences hold `want` as its controller.
bool has_controller_owner(const nlohmann::json& object, const nlohmann::json& want);

// `metadata.ownerReferences` with `want` as the controller: other controllers and an older
// reference to the same uid replaced, non-controller owners kept.
nlohmann::json with_controller_owner(const nlohmann::json& metadata, const nlohmann::json& want);

}  // namespace ballast::guard
