#pragma once

// Type-checked lookups into Kubernetes objects as the apiserver returns them. nlohmann
// throws on a type mismatch and request paths must not throw, so an unexpected shape
// reads as absent (nullptr, an empty string, an empty map), never as an error. Parsers
// that must reject a wrong shape (the node-pool model) check types themselves.

#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

#include "kube/model/labels.h"

namespace ballast::kube {

// The member `key` of `parent`; nullptr when absent, null, or `parent` is no object.
inline const nlohmann::json* child(const nlohmann::json& parent, const char* key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it == parent.end() || it->is_null() ? nullptr : &*it;
}

// `child` step by step; nullptr as soon as one step is missing.
inline const nlohmann::json* path(const nlohmann::json& root, std::initializer_list<const char*> keys) {
  const nlohmann::json* node = &root;
  for (const char* key : keys) {
    node = child(*node, key);
    if (node == nullptr) return nullptr;
  }
  return node;
}

// The string at `keys`, or empty when it is absent or not a string.
inline std::string string_at(const nlohmann::json& root, std::initializer_list<const char*> keys) {
  const nlohmann::json* node = path(root, keys);
  return node != nullptr && node->is_string() ? node->get<std::string>() : std::string();
}

// The string-valued entries of a JSON object (others are skipped); empty when `object` is
// null or not an object.
inline Labels string_map(const nlohmann::json* object) {
  Labels out;
  if (object == nullptr || !object->is_object()) return out;
  for (const auto& [key, value] : object->items()) {
    if (value.is_string()) out.emplace(key, value.get<std::string>());
  }
  return out;
}

}  // namespace ballast::kube
