#pragma once

// metav1.ObjectMeta read from any object as the apiserver returns it. Lenient like
// json_lookup.h: a missing or wrongly typed field reads as empty (or 0, or false).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/model/labels.h"

namespace ballast::kube {

// metadata.name, metadata.namespace, metadata.uid, metadata.resourceVersion.
std::string name(const nlohmann::json& object);
std::string namespace_of(const nlohmann::json& object);
std::string uid(const nlohmann::json& object);
std::string resource_version(const nlohmann::json& object);
// metadata.generation; 0 when absent.
int64_t generation(const nlohmann::json& object);

Labels labels(const nlohmann::json& object);
Labels annotations(const nlohmann::json& object);
// One label or annotation; empty when absent.
std::string label(const nlohmann::json& object, const char* key);
std::string annotation(const nlohmann::json& object, const char* key);

// metadata.deletionTimestamp is set: the object is going away (finalizers may hold it).
bool is_being_deleted(const nlohmann::json& object);

// metav1.OwnerReference.
struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;

  nlohmann::json to_json() const;
};

// metadata.ownerReferences in their order; entries that are not objects are skipped.
std::vector<OwnerReference> owner_references(const nlohmann::json& object);
// The owner reference with controller: true, if any (the API allows at most one).
std::optional<OwnerReference> controller_of(const nlohmann::json& object);

}  // namespace ballast::kube
