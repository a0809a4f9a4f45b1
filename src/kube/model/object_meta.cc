#include "kube/model/object_meta.h"

#include "kube/model/json_lookup.h"

namespace ballast::kube {

using nlohmann::json;

namespace {

bool bool_at(const json& object, const char* key) {
  const json* value = child(object, key);
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

}  // namespace

std::string name(const json& object) { return string_at(object, {"metadata", "name"}); }
std::string namespace_of(const json& object) { return string_at(object, {"metadata", "namespace"}); }
std::string uid(const json& object) { return string_at(object, {"metadata", "uid"}); }
std::string resource_version(const json& object) { return string_at(object, {"metadata", "resourceVersion"}); }

int64_t generation(const json& object) {
  const json* value = path(object, {"metadata", "generation"});
  return value != nullptr && value->is_number_integer() ? value->get<int64_t>() : 0;
}

Labels labels(const json& object) { return string_map(path(object, {"metadata", "labels"})); }
Labels annotations(const json& object) { return string_map(path(object, {"metadata", "annotations"})); }

std::string label(const json& object, const char* key) { return string_at(object, {"metadata", "labels", key}); }
std::string annotation(const json& object, const char* key) {
  return string_at(object, {"metadata", "annotations", key});
}

bool is_being_deleted(const json& object) { return path(object, {"metadata", "deletionTimestamp"}) != nullptr; }

json OwnerReference::to_json() const {
  return {{"apiVersion", api_version}, {"kind", kind},
          {"name", name},              {"uid", uid},
          {"controller", controller},  {"blockOwnerDeletion", block_owner_deletion}};
}

std::vector<OwnerReference> owner_references(const json& object) {
  std::vector<OwnerReference> out;
  const json* owners = path(object, {"metadata", "ownerReferences"});
  if (owners == nullptr || !owners->is_array()) return out;
  for (const json& owner : *owners) {
    if (!owner.is_object()) continue;
    out.push_back({string_at(owner, {"apiVersion"}), string_at(owner, {"kind"}), string_at(owner, {"name"}),
                   string_at(owner, {"uid"}), bool_at(owner, "controller"), bool_at(owner, "blockOwnerDeletion")});
  }
  return out;
}

std::optional<OwnerReference> controller_of(const json& object) {
  for (auto& owner : owner_references(object)) {
    if (owner.controller) return std::move(owner);
  }
  return std::nullopt;
}

}  // namespace ballast::kube
