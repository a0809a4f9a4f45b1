#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace ballast::guard {

using Labels = std::map<std::string, std::string>;

// A metav1.LabelSelector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist),
// parsed once and matched against label sets with Kubernetes' semantics: every
// requirement must hold; NotIn and DoesNotExist hold for an absent key; an empty selector
// ({}) matches everything, and a null one (absent field) matches nothing, as in
// policy/v1 PodDisruptionBudgets. Immutable value type.
class LabelSelector {
 public:
  // A selector that matches nothing (a null selector).
  LabelSelector() = default;

  // Parses the JSON the apiserver returns. A null JSON value gives the match-nothing
  // selector; anything malformed (unknown operator, values on Exists, no values on In,
  // non-string labels) is an error: the caller decides what an unreadable selector means.
  static Result<LabelSelector> parse(const nlohmann::json& selector);

  bool matches(const Labels& labels) const;
  // True for `{}`: selects every pod of the namespace.
  bool is_everything() const { return !null_ && requirements_.empty(); }
  bool is_null() const { return null_; }

 private:
  enum class Op { kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op = Op::kIn;
    std::vector<std::string> values;
  };

  bool null_ = true;
  std::vector<Requirement> requirements_;
};

// The string-valued entries of a JSON labels object (others are skipped); empty when the
// value is not an object.
Labels labels_from_json(const nlohmann::json* labels);

}  // namespace ballast::guard
