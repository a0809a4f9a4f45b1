#pragma once

#include <initializer_list>

#include <nlohmann/json.hpp>

namespace ballast::policy {

// Type-checked lookups into Kubernetes objects: nlohmann throws on a type mismatch, and
// request paths must not throw. An unexpected shape means "not ours to touch", never an
// error, so both return nullptr for a missing, null or non-object step.
inline const nlohmann::json* child(const nlohmann::json& parent, const char* key) {
  if (!parent.is_object()) return nullptr;
  const auto it = parent.find(key);
  return it == parent.end() || it->is_null() ? nullptr : &*it;
}

inline const nlohmann::json* path(const nlohmann::json& root, std::initializer_list<const char*> keys) {
  const nlohmann::json* node = &root;
  for (const char* key : keys) {
    node = child(*node, key);
    if (node == nullptr) return nullptr;
  }
  return node;
}

}  // namespace ballast::policy
