#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/tier_policy.h"

namespace ballast::guard {

struct CreatePriorityClass {
  nlohmann::json priority_class;  // a complete scheduling.k8s.io/v1 PriorityClass: the POST body
  std::string note;               // non-empty when the object differs from the policy (globalDefault dropped)
};

// A class that exists with another value. `value` is immutable in Kubernetes and the
// class may be in use, so the guard reports it (Event + log line) and never changes it.
struct PriorityClassConflict {
  std::string name;
  int want_value = 0;
  std::optional<int64_t> have_value;  // nullopt: the object carries no integer value
  std::string message;
};

struct PriorityClassPlan {
  std::vector<CreatePriorityClass> creates;
  std::vector<PriorityClassConflict> conflicts;
};

// Pure: the policy's PriorityClasses missing from `existing` (list items of
// scheduling.k8s.io/v1 PriorityClasses), and those present with another value. Never
// updates or deletes: description, globalDefault and preemptionPolicy of an existing
// class are left as they are. A class the policy marks globalDefault is created without
// it when another class already is the cluster's default (the apiserver would refuse it).
PriorityClassPlan plan_priority_classes(const policy::TierPolicy& policy, const std::vector<nlohmann::json>& existing);

}  // namespace ballast::guard
