#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "kube/model/labels.h"

namespace ballast::kube {

// A metav1.LabelSelector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist),
// parsed once and matched against label sets with Kubernetes' semantics: every
// requirement must hold; NotIn and DoesNotExist hold for an absent key; an empty selector
// ({}) matches everything, and a null one (absent field) matches nothing, as in
// policy/v1 PodDisruptionBudgets. Immutable value type.
class LabelSelector {
 public:
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Operator op = Operator::kIn;
    std::vector<std::string> values;
  };

  // A selector that matches nothing (a null selector).
  LabelSelector() = default;
  // `{}`: matches every label set.
  static LabelSelector everything() { return from_labels({}); }
  // `{matchLabels: labels}`.
  static LabelSelector from_labels(const Labels& match_labels);

  // Parses the JSON the apiserver returns. A null JSON value gives the match-nothing
  // selector; anything the apiserver's validation rejects (unknown operator, values on
  // Exists, no values on In, non-string labels) is an error: the caller decides what an
  // unreadable selector means.
  static Result<LabelSelector> parse(const nlohmann::json& selector);

  bool matches(const Labels& labels) const;
  // True for `{}`: selects every pod of the namespace.
  bool is_everything() const { return !null_ && requirements_.empty(); }
  bool is_null() const { return null_; }
  // matchLabels first (as In requirements with one value), then matchExpressions.
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  bool null_ = true;
  std::vector<Requirement> requirements_;
};

}  // namespace ballast::kube
