#include "kube/model/label_selector.h"

#include <algorithm>

namespace ballast::kube {

using json = nlohmann::json;

LabelSelector LabelSelector::from_labels(const Labels& match_labels) {
  LabelSelector out;
  out.null_ = false;
  for (const auto& [key, value] : match_labels) out.requirements_.push_back({key, Operator::kIn, {value}});
  return out;
}

Result<LabelSelector> LabelSelector::parse(const json& selector) {
  LabelSelector out;
  if (selector.is_null()) return out;
  if (!selector.is_object()) return invalid_argument("label selector: expected an object");
  out.null_ = false;
  if (const auto labels = selector.find("matchLabels"); labels != selector.end() && !labels->is_null()) {
    if (!labels->is_object()) return invalid_argument("label selector: matchLabels must be an object");
    for (const auto& [key, value] : labels->items()) {
      if (!value.is_string()) return invalid_argument("label selector: matchLabels." + key + " must be a string");
      out.requirements_.push_back({key, Operator::kIn, {value.get<std::string>()}});
    }
  }
  const auto expressions = selector.find("matchExpressions");
  if (expressions == selector.end() || expressions->is_null()) return out;
  if (!expressions->is_array()) return invalid_argument("label selector: matchExpressions must be a list");
  for (const auto& expression : *expressions) {
    if (!expression.is_object()) return invalid_argument("label selector: a matchExpressions entry is not an object");
    const auto key = expression.find("key");
    const auto op = expression.find("operator");
    if (key == expression.end() || !key->is_string() || op == expression.end() || !op->is_string()) {
      return invalid_argument("label selector: a matchExpressions entry needs key and operator");
    }
    Requirement requirement{key->get<std::string>(), Operator::kIn, {}};
    const std::string op_name = op->get<std::string>();
    if (op_name == "In") {
      requirement.op = Operator::kIn;
    } else if (op_name == "NotIn") {
      requirement.op = Operator::kNotIn;
    } else if (op_name == "Exists") {
      requirement.op = Operator::kExists;
    } else if (op_name == "DoesNotExist") {
      requirement.op = Operator::kDoesNotExist;
    } else {
      return invalid_argument("label selector: unknown operator \"" + op_name + "\"");
    }
    if (const auto values = expression.find("values"); values != expression.end() && !values->is_null()) {
      if (!values->is_array()) return invalid_argument("label selector: values must be a list");
      for (const auto& value : *values) {
        if (!value.is_string()) return invalid_argument("label selector: values must be strings");
        requirement.values.push_back(value.get<std::string>());
      }
    }
    // The apiserver's own validation: In/NotIn need values, Exists/DoesNotExist take none.
    const bool set_based = requirement.op == Operator::kIn || requirement.op == Operator::kNotIn;
    if (set_based == requirement.values.empty()) {
      return invalid_argument("label selector: operator " + op_name +
                              (set_based ? " needs values" : " takes no values") + " (key " + requirement.key + ")");
    }
    out.requirements_.push_back(std::move(requirement));
  }
  return out;
}

bool LabelSelector::matches(const Labels& labels) const {
  if (null_) return false;
  return std::all_of(requirements_.begin(), requirements_.end(), [&](const Requirement& requirement) {
    const auto it = labels.find(requirement.key);
    const bool present = it != labels.end();
    const auto listed = [&] {
      return present && std::find(requirement.values.begin(), requirement.values.end(), it->second) !=
                            requirement.values.end();
    };
    switch (requirement.op) {
      case Operator::kIn:
        return listed();
      case Operator::kNotIn:
        return !listed();
      case Operator::kExists:
        return present;
      case Operator::kDoesNotExist:
        return !present;
    }
    return false;
  });
}

}  // namespace ballast::kube
