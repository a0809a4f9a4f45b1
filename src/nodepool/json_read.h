#pragma once

// Internal to src/nodepool: typed reads of Kubernetes JSON at the parse edge. A wrong
// shape throws FieldError carrying the field path; parse_* functions catch it (and any
// nlohmann error) and return a Result naming the object, so nothing escapes the parsers.

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nodepool/k8s_types.h"
#include "core/timestamp.h"
#include "kube/model/quantity.h"

namespace ballast::nodepool::detail {

using json = nlohmann::json;

struct FieldError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& path, const std::string& what) {
  throw FieldError(path + ": " + what);
}

// The member `key` of `object`, or nullptr when absent or null. `object` must be an
// object (or null/absent, giving nullptr).
inline const json* member(const json* object, const char* key, const std::string& path) {
  if (object == nullptr || object->is_null()) return nullptr;
  if (!object->is_object()) fail(path, "expected an object");
  const auto it = object->find(key);
  return it == object->end() || it->is_null() ? nullptr : &*it;
}

inline std::string join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

inline std::string string_at(const json* value, const std::string& path, std::string fallback = {}) {
  if (value == nullptr) return fallback;
  if (!value->is_string()) fail(path, "expected a string");
  return value->get<std::string>();
}

inline bool bool_at(const json* value, const std::string& path, bool fallback) {
  if (value == nullptr) return fallback;
  if (!value->is_boolean()) fail(path, "expected true or false");
  return value->get<bool>();
}

inline int64_t int_at(const json* value, const std::string& path, int64_t fallback) {
  if (value == nullptr) return fallback;
  if (!value->is_number_integer() && !value->is_number_unsigned()) fail(path, "expected an integer");
  return value->get<int64_t>();
}

inline double number_at(const json* value, const std::string& path, double fallback) {
  if (value == nullptr) return fallback;
  if (!value->is_number()) fail(path, "expected a number");
  return value->get<double>();
}

// A quantity written as a string ("500m") or a JSON number (2).
inline std::string quantity_text(const json& value, const std::string& path) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  fail(path, "expected a quantity");
}

inline int64_t milli_at(const json* value, const std::string& path, int64_t fallback) {
  if (value == nullptr) return fallback;
  auto parsed = kube::parse_milli(quantity_text(*value, path));
  if (!parsed) fail(path, parsed.error().message);
  return *parsed;
}

inline int64_t units_at(const json* value, const std::string& path, int64_t fallback) {
  if (value == nullptr) return fallback;
  auto parsed = kube::parse_units(quantity_text(*value, path));
  if (!parsed) fail(path, parsed.error().message);
  return *parsed;
}

inline std::optional<TimePoint> time_at(const json* value, const std::string& path) {
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) fail(path, "expected an RFC 3339 time");
  auto parsed = parse_time(value->get<std::string>());
  if (!parsed) fail(path, parsed.error().message);
  return *parsed;
}

inline std::map<std::string, std::string> string_map_at(const json* value, const std::string& path) {
  std::map<std::string, std::string> out;
  if (value == nullptr) return out;
  if (!value->is_object()) fail(path, "expected an object of strings");
  for (const auto& [k, v] : value->items()) {
    if (!v.is_string()) fail(path + "." + k, "expected a string");
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

inline const json& array_at(const json* value, const std::string& path) {
  static const json kEmpty = json::array();
  if (value == nullptr) return kEmpty;
  if (!value->is_array()) fail(path, "expected an array");
  return *value;
}

inline std::vector<std::string> string_list_at(const json* value, const std::string& path) {
  std::vector<std::string> out;
  const json& items = array_at(value, path);
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back(string_at(&items[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

inline std::string index(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

inline std::vector<Taint> taints_at(const json* value, const std::string& path) {
  std::vector<Taint> out;
  const json& items = array_at(value, path);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string p = index(path, i);
    Taint t;
    t.key = string_at(member(&items[i], "key", p), p + ".key");
    t.value = string_at(member(&items[i], "value", p), p + ".value");
    t.effect = string_at(member(&items[i], "effect", p), p + ".effect");
    if (t.key.empty()) fail(p + ".key", "required");
    if (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute") {
      fail(p + ".effect", "must be NoSchedule, PreferNoSchedule or NoExecute");
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace ballast::nodepool::detail
