#include "policy/tier_policy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <limits>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "core/file.h"
#include "core/yaml_document.h"
#include "kube/model/quantity.h"

namespace ballast::policy {
namespace {

Tier make_tier(std::string name, std::string priority_class, std::vector<SpreadRule> spread, bool anti_affinity,
               PdbRule pdb, ResourceRequests requests) {
  std::vector<AntiAffinityRule> anti;
  if (anti_affinity) anti.push_back(AntiAffinityRule{});
  return Tier{std::move(name), std::move(priority_class), std::move(spread), std::move(anti), std::move(pdb),
              std::move(requests), {}, std::nullopt};
}

std::vector<SpreadRule> soft_spread() { return {SpreadRule{1, "ScheduleAnyway", false, kHostnameTopologyKey}}; }
// Honor taints on hard constraints: otherwise tainted nodes the pods cannot use still
// count as empty domains and DoNotSchedule leaves pods Pending (webhook.md §4.8).
std::vector<SpreadRule> hard_spread() { return {SpreadRule{1, "DoNotSchedule", true, kHostnameTopologyKey}}; }

PdbRule pdb_rule(BudgetKind kind, std::string value, int min_replicas) {
  PdbRule rule;
  rule.kind = kind;
  rule.value = std::move(value);
  rule.min_replicas = min_replicas;
  return rule;
}

bool is_dns_label_text(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  for (char c : text) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

// yaml-cpp reports problems by exception; this file converts them to values at the edge.
using Node = YAML::Node;

Result<std::string> scalar(const Node& node, const std::string& where) {
  if (!node.IsScalar()) return invalid_argument(where + ": expected a string");
  return node.as<std::string>();
}

Status check_keys(const Node& map, const std::string& where, std::initializer_list<std::string_view> known) {
  if (!map.IsMap()) return invalid_argument(where + ": expected a mapping");
  for (const auto& entry : map) {
    const auto key = entry.first.as<std::string>();
    bool found = false;
    for (auto k : known) found = found || k == key;
    if (!found) return invalid_argument(where + ": unknown key \"" + key + "\"");
  }
  return Ok{};
}

Result<int> positive_int(const Node& node, const std::string& where) {
  auto text = scalar(node, where);
  if (!text) return text.error();
  try {
    size_t used = 0;
    const int value = std::stoi(*text, &used);
    if (used == text->size() && value >= 1) return value;
  } catch (const std::exception&) {
  }
  return invalid_argument(where + ": expected a positive integer, got \"" + *text + "\"");
}

Result<bool> boolean(const Node& node, const std::string& where) {
  auto text = scalar(node, where);
  if (!text) return text.error();
  if (*text == "true") return true;
  if (*text == "false") return false;
  return invalid_argument(where + ": expected true or false, got \"" + *text + "\"");
}

Result<int> priority_value(const Node& node, const std::string& where) {
  auto text = scalar(node, where);
  if (!text) return text.error();
  try {
    size_t used = 0;
    const long long value = std::stoll(*text, &used);
    if (used == text->size() && value >= std::numeric_limits<int32_t>::min() && value <= kMaxUserPriority) {
      return static_cast<int>(value);
    }
  } catch (const std::exception&) {
  }
  return invalid_argument(where + ": expected an integer at most " + std::to_string(kMaxUserPriority) + ", got \"" +
                          *text + "\"");
}

Result<PriorityClassSpec> parse_priority_class(const Node& node, const std::string& where) {
  if (auto keys = check_keys(node, where, {"value", "globalDefault", "description", "preemptionPolicy"}); !keys) {
    return keys.error();
  }
  if (!node["value"]) return invalid_argument(where + ": needs value");
  PriorityClassSpec spec;
  auto value = priority_value(node["value"], where + ".value");
  if (!value) return value.error();
  spec.value = *value;
  if (node["globalDefault"]) {
    auto global = boolean(node["globalDefault"], where + ".globalDefault");
    if (!global) return global.error();
    spec.global_default = *global;
  }
  if (node["description"]) {
    auto description = scalar(node["description"], where + ".description");
    if (!description) return description.error();
    spec.description = *description;
  }
  if (node["preemptionPolicy"]) {
    auto preemption = scalar(node["preemptionPolicy"], where + ".preemptionPolicy");
    if (!preemption) return preemption.error();
    if (*preemption != "PreemptLowerPriority" && *preemption != "Never") {
      return invalid_argument(where + ".preemptionPolicy: expected PreemptLowerPriority or Never");
    }
    spec.preemption_policy = *preemption;
  }
  return spec;
}

// Whole-policy rules: one globalDefault at most; every class a tier names is defined.
Status check_priority_classes(const TierPolicy& policy) {
  std::string global_default;
  for (const auto& [name, spec] : policy.priority_classes) {
    if (!spec.global_default) continue;
    if (!global_default.empty()) {
      return invalid_argument("priorityClasses: \"" + global_default + "\" and \"" + name +
                              "\" are both globalDefault; Kubernetes allows one");
    }
    global_default = name;
  }
  for (const auto& [tier_name, tier] : policy.tiers) {
    const std::string& name = tier.priority_class;
    // Kubernetes' own system-* classes always exist and may not be defined by a policy.
    if (name.empty() || name.starts_with("system-") || policy.priority_classes.count(name) > 0) continue;
    return invalid_argument("tiers." + tier_name + ".priorityClassName: \"" + name +
                            "\" is not defined in priorityClasses");
  }
  return Ok{};
}

// A qualified label key as Kubernetes validates it: an optional DNS-subdomain prefix and
// '/', then a name of at most 63 characters [A-Za-z0-9._-] that starts and ends alphanumeric.
bool is_label_key(std::string_view key) {
  const size_t slash = key.rfind('/');
  if (slash != std::string_view::npos && !is_dns_label_text(key.substr(0, slash))) return false;
  const std::string_view name = slash == std::string_view::npos ? key : key.substr(slash + 1);
  if (name.empty() || name.size() > 63 || !std::isalnum(static_cast<unsigned char>(name.front())) ||
      !std::isalnum(static_cast<unsigned char>(name.back()))) {
    return false;
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

Result<std::string> topology_key(const Node& node, const std::string& where) {
  auto key = scalar(node, where);
  if (!key) return key.error();
  if (!is_label_key(*key)) return invalid_argument(where + ": \"" + *key + "\" is not a label key");
  return *key;
}

// Several placement rules per tier: a list, or (the common case) one mapping.
template <typename Rule, typename ParseOne>
Status parse_rule_list(const Node& node, const std::string& where, std::vector<Rule>& rules, ParseOne parse_one) {
  if (node.IsScalar() && node.as<std::string>() == "none") {
    rules.clear();
    return Ok{};
  }
  std::vector<Rule> parsed;
  std::set<std::string> keys;
  const auto add = [&](const Node& item, const std::string& item_where, Rule start) -> Status {
    if (auto ok = parse_one(item, item_where, start); !ok) return ok;
    if (!keys.insert(start.topology_key).second) {
      return invalid_argument(item_where + ": topologyKey \"" + start.topology_key + "\" appears twice");
    }
    parsed.push_back(std::move(start));
    return Ok{};
  };
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      if (auto ok = add(node[i], where + "[" + std::to_string(i) + "]", Rule{}); !ok) return ok;
    }
  } else {
    // One rule changes the tier's first one field by field (a file may set only maxSkew).
    if (auto ok = add(node, where, rules.empty() ? Rule{} : rules.front()); !ok) return ok;
  }
  rules = std::move(parsed);
  return Ok{};
}

Status parse_spread_rule(const Node& node, const std::string& where, SpreadRule& rule) {
  if (auto keys = check_keys(node, where, {"maxSkew", "whenUnsatisfiable", "nodeTaintsPolicy", "topologyKey"}); !keys) {
    return keys;
  }
  if (node["maxSkew"]) {
    auto skew = positive_int(node["maxSkew"], where + ".maxSkew");
    if (!skew) return skew.error();
    rule.max_skew = *skew;
  }
  if (node["whenUnsatisfiable"]) {
    auto when = scalar(node["whenUnsatisfiable"], where + ".whenUnsatisfiable");
    if (!when) return when.error();
    if (*when != "ScheduleAnyway" && *when != "DoNotSchedule") {
      return invalid_argument(where + ".whenUnsatisfiable: expected ScheduleAnyway or DoNotSchedule");
    }
    rule.when_unsatisfiable = *when;
  }
  if (node["nodeTaintsPolicy"]) {
    auto taints = scalar(node["nodeTaintsPolicy"], where + ".nodeTaintsPolicy");
    if (!taints) return taints.error();
    if (*taints != "Honor" && *taints != "Ignore") {
      return invalid_argument(where + ".nodeTaintsPolicy: expected Honor or Ignore");
    }
    rule.honor_taints = *taints == "Honor";
  }
  if (node["topologyKey"]) {
    auto key = topology_key(node["topologyKey"], where + ".topologyKey");
    if (!key) return key.error();
    rule.topology_key = *key;
  }
  return Ok{};
}

Status parse_anti_affinity_mode(const std::string& mode, const std::string& where, AntiAffinityRule& rule) {
  if (mode != "required" && mode != "preferred") {
    return invalid_argument(where + ": expected required, preferred or none, got \"" + mode + "\"");
  }
  rule.required = mode == "required";
  return Ok{};
}

// `required`, `preferred` (weight 100, hostname), or {mode, weight, topologyKey}.
Status parse_anti_affinity_rule(const Node& node, const std::string& where, AntiAffinityRule& rule) {
  if (node.IsScalar()) {
    rule = AntiAffinityRule{};
    return parse_anti_affinity_mode(node.as<std::string>(), where, rule);
  }
  if (auto keys = check_keys(node, where, {"mode", "weight", "topologyKey"}); !keys) return keys;
  if (node["mode"]) {
    auto mode = scalar(node["mode"], where + ".mode");
    if (!mode) return mode.error();
    if (auto ok = parse_anti_affinity_mode(*mode, where + ".mode", rule); !ok) return ok;
  }
  if (node["weight"]) {
    auto weight = positive_int(node["weight"], where + ".weight");
    if (!weight) return weight.error();
    if (*weight > 100) return invalid_argument(where + ".weight: expected 1 to 100, got " + std::to_string(*weight));
    rule.weight = *weight;
  }
  if (rule.required && node["weight"]) {
    return invalid_argument(where + ".weight: only a preferred term has a weight (set mode: preferred)");
  }
  if (node["topologyKey"]) {
    auto key = topology_key(node["topologyKey"], where + ".topologyKey");
    if (!key) return key.error();
    rule.topology_key = *key;
  }
  return Ok{};
}

// The minAvailable or maxUnavailable of a mapping whose keys the caller checked.
Result<BudgetValue> parse_budget_value(const Node& node, const std::string& where, bool quorum_allowed) {
  if (node["minAvailable"] && node["maxUnavailable"]) {
    return invalid_argument(where + ": set minAvailable or maxUnavailable, not both");
  }
  const bool min = static_cast<bool>(node["minAvailable"]);
  if (!min && !node["maxUnavailable"]) return invalid_argument(where + ": needs minAvailable or maxUnavailable");
  const std::string key_where = where + (min ? ".minAvailable" : ".maxUnavailable");
  auto value = scalar(min ? node["minAvailable"] : node["maxUnavailable"], key_where);
  if (!value) return value.error();
  if (min && *value == "quorum" && quorum_allowed) return BudgetValue{BudgetKind::kQuorum, ""};
  const std::string digits = value->ends_with('%') ? value->substr(0, value->size() - 1) : *value;
  if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos ||
      (value->ends_with('%') && std::stoi(digits) > 100)) {
    return invalid_argument(key_where + ": expected an integer, a percentage" +
                            (quorum_allowed ? std::string(" or quorum") : std::string()) + ", got \"" + *value + "\"");
  }
  return BudgetValue{min ? BudgetKind::kMinAvailable : BudgetKind::kMaxUnavailable, *value};
}

Status parse_pdb(const Node& node, const std::string& where, Tier& tier) {
  if (node.IsScalar() && node.as<std::string>() == "none") {
    tier.pdb = PdbRule{};
    return Ok{};
  }
  if (auto keys = check_keys(node, where,
                             {"minAvailable", "maxUnavailable", "minReplicas", "scaledToZero", "kedaMinTwoOrMore"});
      !keys) {
    return keys;
  }
  PdbRule rule;
  auto budget = parse_budget_value(node, where, true);
  if (!budget) return budget.error();
  rule.kind = budget->kind;
  rule.value = budget->value;
  if (node["minReplicas"]) {
    auto replicas = positive_int(node["minReplicas"], where + ".minReplicas");
    if (!replicas) return replicas.error();
    rule.min_replicas = *replicas;
  }
  // Unset ScaledObject budgets keep the tier's current ones (the built-in defaults).
  rule.scaled_to_zero = tier.pdb.scaled_to_zero;
  rule.keda_min_two_or_more = tier.pdb.keda_min_two_or_more;
  for (auto [key, field] : {std::pair{"scaledToZero", &PdbRule::scaled_to_zero},
                            std::pair{"kedaMinTwoOrMore", &PdbRule::keda_min_two_or_more}}) {
    if (!node[key]) continue;
    if (auto keys = check_keys(node[key], where + "." + key, {"minAvailable", "maxUnavailable"}); !keys) return keys;
    // Quorum needs a fixed membership; a KEDA-scaled workload has none.
    auto value = parse_budget_value(node[key], where + "." + key, false);
    if (!value) return value.error();
    rule.*field = *value;
  }
  tier.pdb = rule;
  return Ok{};
}

Status parse_resources(const Node& node, const std::string& where, ResourceRequests& resources) {
  if (auto keys = check_keys(node, where, {"cpu", "memory"}); !keys) return keys;
  for (auto [key, field] : {std::pair{"cpu", &ResourceRequests::cpu}, std::pair{"memory", &ResourceRequests::memory}}) {
    if (!node[key]) continue;
    auto quantity = scalar(node[key], where + "." + key);
    if (!quantity) return quantity.error();
    if (!quantity->empty() && !kube::is_valid_quantity(*quantity)) {
      return invalid_argument(where + "." + key + ": \"" + *quantity + "\" is not a resource quantity");
    }
    resources.*field = *quantity;
  }
  return Ok{};
}

// The apiserver refuses a container whose limit is below its request.
Status check_limits(const Tier& tier, const std::string& where) {
  for (auto [key, field, parse] : {std::tuple{"cpu", &ResourceRequests::cpu, &kube::parse_milli},
                                   std::tuple{"memory", &ResourceRequests::memory, &kube::parse_units}}) {
    const std::string& request = tier.requests.*field;
    const std::string& limit = tier.limits.*field;
    if (request.empty() || limit.empty()) continue;
    auto request_value = parse(request);
    auto limit_value = parse(limit);
    if (request_value && limit_value && *limit_value < *request_value) {
      return invalid_argument(where + ".limits." + key + ": " + limit + " is below the tier's request " + request);
    }
  }
  return Ok{};
}

Result<std::set<std::string>> string_set(const Node& node, const std::string& where);

// The VPA enum (autoscaling.k8s.io/v1 updatePolicy.updateMode).
constexpr std::array<std::string_view, 6> kVpaUpdateModes = {"Off", "Initial", "Recreate", "InPlaceOrRecreate",
                                                             "InPlace", "Auto"};

Status parse_vpa(const Node& node, const std::string& where, Tier& tier) {
  if (node.IsScalar() && node.as<std::string>() == "none") {
    tier.vpa.reset();
    return Ok{};
  }
  if (auto keys = check_keys(node, where, {"updateMode", "minAllowed", "maxAllowed", "controlledResources"}); !keys) {
    return keys;
  }
  VpaRule rule = tier.vpa.value_or(VpaRule{});
  if (node["updateMode"]) {
    auto mode = scalar(node["updateMode"], where + ".updateMode");
    if (!mode) return mode.error();
    if (std::find(kVpaUpdateModes.begin(), kVpaUpdateModes.end(), *mode) == kVpaUpdateModes.end()) {
      return invalid_argument(where + ".updateMode: expected Off, Initial, Recreate, InPlaceOrRecreate, InPlace or "
                                      "Auto, got \"" + *mode + "\"");
    }
    rule.update_mode = *mode;
  }
  for (auto [key, field] : {std::pair{"minAllowed", &VpaRule::min_allowed}, std::pair{"maxAllowed", &VpaRule::max_allowed}}) {
    if (!node[key]) continue;
    if (auto ok = parse_resources(node[key], where + "." + key, rule.*field); !ok) return ok;
  }
  if (const Node resources = node["controlledResources"]) {
    auto names = string_set(resources, where + ".controlledResources");
    if (!names) return names.error();
    if (names->empty()) return invalid_argument(where + ".controlledResources: expected cpu, memory or both");
    for (const auto& name : *names) {
      if (name != "cpu" && name != "memory") {
        return invalid_argument(where + ".controlledResources: expected cpu or memory, got \"" + name + "\"");
      }
    }
    rule.controlled_resources.assign(names->begin(), names->end());
  }
  tier.vpa = std::move(rule);
  return Ok{};
}

// minAllowed ≤ maxAllowed, and the tier's starting requests inside the bounds: the webhook's
// requests and VPA's bounds come from the same tier, so a pod never starts outside them.
Status check_vpa_bounds(const Tier& tier, const std::string& where) {
  if (!tier.vpa) return Ok{};
  const VpaRule& vpa = *tier.vpa;
  for (auto [key, field, parse] : {std::tuple{"cpu", &ResourceRequests::cpu, &kube::parse_milli},
                                   std::tuple{"memory", &ResourceRequests::memory, &kube::parse_units}}) {
    const std::string& min = vpa.min_allowed.*field;
    const std::string& max = vpa.max_allowed.*field;
    const std::string& request = tier.requests.*field;
    // clang 14 (the fuzz build) cannot capture a structured binding in a lambda.
    const auto parse_quantity = parse;
    const auto value = [&](const std::string& text) -> std::optional<int64_t> {
      if (text.empty()) return std::nullopt;
      auto parsed = parse_quantity(text);
      return parsed ? std::optional<int64_t>(*parsed) : std::nullopt;
    };
    const auto min_value = value(min);
    const auto max_value = value(max);
    const auto request_value = value(request);
    if (min_value && max_value && *max_value < *min_value) {
      return invalid_argument(where + ".vpa.maxAllowed." + key + ": " + max + " is below minAllowed " + min);
    }
    if (request_value && min_value && *request_value < *min_value) {
      return invalid_argument(where + ".vpa.minAllowed." + key + ": " + min + " is above the tier's request " +
                              request);
    }
    if (request_value && max_value && *max_value < *request_value) {
      return invalid_argument(where + ".vpa.maxAllowed." + key + ": " + max + " is below the tier's request " +
                              request);
    }
  }
  return Ok{};
}

Status parse_tier(const Node& node, const std::string& where, Tier& tier) {
  if (auto keys = check_keys(node, where, {"priorityClassName", "spread", "antiAffinity", "pdb", "requests", "limits", "vpa"}); !keys) {
    return keys;
  }
  if (node["priorityClassName"]) {
    auto name = scalar(node["priorityClassName"], where + ".priorityClassName");
    if (!name) return name.error();
    if (!name->empty() && !is_dns_label_text(*name)) {
      return invalid_argument(where + ".priorityClassName: \"" + *name + "\" is not a valid object name");
    }
    tier.priority_class = *name;
  }
  if (node["spread"]) {
    if (auto ok = parse_rule_list(node["spread"], where + ".spread", tier.spread, parse_spread_rule); !ok) return ok;
  }
  if (node["antiAffinity"]) {
    if (auto ok = parse_rule_list(node["antiAffinity"], where + ".antiAffinity", tier.anti_affinity,
                                  parse_anti_affinity_rule);
        !ok) {
      return ok;
    }
  }
  if (node["pdb"]) {
    if (auto pdb = parse_pdb(node["pdb"], where + ".pdb", tier); !pdb) return pdb;
  }
  for (auto [name, field] : {std::pair{"requests", &Tier::requests}, std::pair{"limits", &Tier::limits}}) {
    if (!node[name]) continue;
    if (auto ok = parse_resources(node[name], where + "." + name, tier.*field); !ok) return ok;
  }
  if (node["vpa"]) {
    if (auto ok = parse_vpa(node["vpa"], where + ".vpa", tier); !ok) return ok;
  }
  if (auto ok = check_limits(tier, where); !ok) return ok;
  return check_vpa_bounds(tier, where);
}

bool is_label_value(std::string_view value) {
  if (value.empty()) return true;
  if (value.size() > 63 || !std::isalnum(static_cast<unsigned char>(value.front())) ||
      !std::isalnum(static_cast<unsigned char>(value.back()))) {
    return false;
  }
  return std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Result<PdbTarget> parse_pdb_target(const Node& node, const std::string& where) {
  if (auto keys = check_keys(node, where, {"name", "namespace", "matchLabels", "pdb"}); !keys) return keys.error();
  PdbTarget target;
  for (auto [key, field] : {std::pair{"name", &PdbTarget::name}, std::pair{"namespace", &PdbTarget::ns}}) {
    if (!node[key]) return invalid_argument(where + ": needs " + key);
    auto value = scalar(node[key], where + "." + key);
    if (!value) return value.error();
    if (!is_dns_label_text(*value) || value->size() > 63) {
      return invalid_argument(where + "." + key + ": \"" + *value + "\" is not a valid name");
    }
    target.*field = *value;
  }
  const Node labels = node["matchLabels"];
  if (!labels || !labels.IsMap() || labels.size() == 0) {
    return invalid_argument(where + ".matchLabels: expected a non-empty mapping of label to value");
  }
  for (const auto& entry : labels) {
    const auto key = entry.first.as<std::string>();
    auto value = scalar(entry.second, where + ".matchLabels." + key);
    if (!value) return value.error();
    if (!is_label_key(key)) return invalid_argument(where + ".matchLabels: \"" + key + "\" is not a label key");
    if (!is_label_value(*value)) {
      return invalid_argument(where + ".matchLabels." + key + ": \"" + *value + "\" is not a label value");
    }
    target.match_labels[key] = *value;
  }
  if (!node["pdb"]) return invalid_argument(where + ": needs pdb");
  if (auto keys = check_keys(node["pdb"], where + ".pdb", {"minAvailable", "maxUnavailable"}); !keys) {
    return keys.error();
  }
  auto budget = parse_budget_value(node["pdb"], where + ".pdb", true);
  if (!budget) return budget.error();
  target.budget = *budget;
  return target;
}

Result<std::set<std::string>> string_set(const Node& node, const std::string& where) {
  if (!node.IsSequence()) return invalid_argument(where + ": expected a list");
  std::set<std::string> out;
  for (const auto& item : node) {
    auto text = scalar(item, where);
    if (!text) return text.error();
    out.insert(*text);
  }
  return out;
}

Status check_tier_exists(const TierPolicy& policy, const std::string& name, const std::string& where) {
  if (policy.find_tier(name) == nullptr) return invalid_argument(where + ": unknown tier \"" + name + "\"");
  return Ok{};
}

Result<TierPolicy> parse_root(const Node& root) {
  TierPolicy policy = default_policy();
  if (root.IsNull()) return policy;
  if (auto keys = check_keys(root, "policy", {"tiers", "namespaces", "defaultTier", "statefulSetTier",
                                              "privilegedNamespaces", "restrictedPriorityClasses", "scalerAddresses",
                                              "priorityClasses", "pdbTargets"});
      !keys) {
    return keys.error();
  }
  if (const Node tiers = root["tiers"]) {
    if (!tiers.IsMap()) return invalid_argument("tiers: expected a mapping of tier name to settings");
    for (const auto& entry : tiers) {
      const auto name = entry.first.as<std::string>();
      if (!is_dns_label_text(name)) return invalid_argument("tiers: \"" + name + "\" is not a valid tier name");
      // A tier named like a built-in one starts from it, so a file may change one field.
      Tier& tier = policy.tiers.try_emplace(name, Tier{name, "", {}, {}, {}, {}, {}, std::nullopt}).first->second;
      if (auto parsed = parse_tier(entry.second, "tiers." + name, tier); !parsed) return parsed.error();
    }
  }
  if (const Node namespaces = root["namespaces"]) {
    if (!namespaces.IsMap()) return invalid_argument("namespaces: expected a mapping of namespace to tier");
    policy.namespace_tiers.clear();
    for (const auto& entry : namespaces) {
      const auto ns = entry.first.as<std::string>();
      auto tier = scalar(entry.second, "namespaces." + ns);
      if (!tier) return tier.error();
      policy.namespace_tiers[ns] = *tier;
    }
  }
  for (auto [key, field] : {std::pair{"defaultTier", &TierPolicy::default_tier},
                            std::pair{"statefulSetTier", &TierPolicy::statefulset_tier}}) {
    if (!root[key]) continue;
    auto value = scalar(root[key], key);
    if (!value) return value.error();
    policy.*field = *value;
  }
  for (auto [key, field] : {std::pair{"privilegedNamespaces", &TierPolicy::privileged_namespaces},
                            std::pair{"restrictedPriorityClasses", &TierPolicy::restricted_priority_classes},
                            std::pair{"scalerAddresses", &TierPolicy::scaler_addresses}}) {
    if (!root[key]) continue;
    auto values = string_set(root[key], key);
    if (!values) return values.error();
    policy.*field = *values;
  }

  if (const Node classes = root["priorityClasses"]) {
    if (!classes.IsMap()) return invalid_argument("priorityClasses: expected a mapping of class name to settings");
    // Replaced whole, like namespaces: the guard creates every class listed, so a file must
    // be able to leave a built-in one out.
    policy.priority_classes.clear();
    for (const auto& entry : classes) {
      const auto name = entry.first.as<std::string>();
      const std::string where = "priorityClasses." + name;
      if (!is_dns_label_text(name)) return invalid_argument(where + ": not a valid object name");
      if (name.starts_with("system-")) {
        return invalid_argument(where + ": the system- prefix is reserved for Kubernetes' built-in classes");
      }
      auto spec = parse_priority_class(entry.second, where);
      if (!spec) return spec.error();
      policy.priority_classes[name] = std::move(*spec);
    }
  }

  if (const Node targets = root["pdbTargets"]) {
    if (!targets.IsSequence()) return invalid_argument("pdbTargets: expected a list");
    std::set<std::pair<std::string, std::string>> seen;
    for (size_t i = 0; i < targets.size(); ++i) {
      const std::string where = "pdbTargets[" + std::to_string(i) + "]";
      auto target = parse_pdb_target(targets[i], where);
      if (!target) return target.error();
      if (!seen.emplace(target->ns, target->name).second) {
        return invalid_argument(where + ": " + target->ns + "/" + target->name + " appears twice");
      }
      policy.pdb_targets.push_back(std::move(*target));
    }
  }

  if (auto ok = check_tier_exists(policy, policy.default_tier, "defaultTier"); !ok) return ok.error();
  if (auto ok = check_tier_exists(policy, policy.statefulset_tier, "statefulSetTier"); !ok) return ok.error();
  for (const auto& [ns, tier] : policy.namespace_tiers) {
    if (auto ok = check_tier_exists(policy, tier, "namespaces." + ns); !ok) return ok.error();
  }
  if (auto ok = check_priority_classes(policy); !ok) return ok.error();
  return policy;
}

}  // namespace

const Tier* TierPolicy::find_tier(std::string_view name) const {
  const auto it = tiers.find(std::string(name));
  return it == tiers.end() ? nullptr : &it->second;
}

const std::string* TierPolicy::namespace_tier(std::string_view ns) const {
  if (const auto exact = namespace_tiers.find(std::string(ns)); exact != namespace_tiers.end()) return &exact->second;
  const std::string* best = nullptr;
  size_t best_length = 0;
  for (const auto& [pattern, tier] : namespace_tiers) {
    if (!pattern.ends_with('*')) continue;
    const std::string_view prefix(pattern.data(), pattern.size() - 1);
    if (ns.starts_with(prefix) && (best == nullptr || prefix.size() > best_length)) {
      best = &tier;
      best_length = prefix.size();
    }
  }
  return best;
}

bool TierPolicy::is_restricted_priority_class(std::string_view name) const {
  // Kubernetes reserves the `system-` prefix for its built-in classes, so every such name
  // is one of them (or will be).
  return name.starts_with("system-") || restricted_priority_classes.count(std::string(name)) > 0;
}

bool TierPolicy::may_use_priority_class(std::string_view ns, std::string_view name) const {
  return !is_restricted_priority_class(name) || privileged_namespaces.count(std::string(ns)) > 0;
}

TierPolicy default_policy() {
  using Kind = PdbRule::Kind;
  TierPolicy policy;
  for (auto tier : {
           make_tier("infra", "platform-infra-critical", hard_spread(), true, pdb_rule(Kind::kMinAvailable, "2", 3),
                     {"100m", "128Mi"}),
           make_tier("critical", "platform-critical", soft_spread(), false, pdb_rule(Kind::kMinAvailable, "1", 2),
                     {"100m", "128Mi"}),
           make_tier("standard", "platform-normal", soft_spread(), false, pdb_rule(Kind::kMinAvailable, "1", 2),
                     {"50m", "64Mi"}),
           make_tier("stateful", "platform-critical", hard_spread(), true, pdb_rule(Kind::kQuorum, "", 3),
                     {"250m", "256Mi"}),
           make_tier("scale-to-zero", "platform-normal", soft_spread(), false, pdb_rule(Kind::kMaxUnavailable, "1", 0),
                     {"50m", "64Mi"}),
           make_tier("batch", "batch-low", {}, false, PdbRule{}, {"100m", "128Mi"}),
       }) {
    policy.tiers.emplace(tier.name, tier);
  }
  policy.namespace_tiers = {{"ai-services", "scale-to-zero"},
                            {"databases", "stateful"},
                            {"istio-system", "infra"},
                            {"monitoring", "infra"}};
  policy.privileged_namespaces = {"kube-system", "istio-system", "monitoring", "ballast-system"};
  policy.restricted_priority_classes = {"platform-infra-critical"};
  policy.scaler_addresses = {"ballast.ballast-system.svc:9090", "ballast.ballast-system.svc.cluster.local:9090",
                             "ballast.ballast-system:9090"};
  // CONTRACT.md's values; the descriptions and batch-low's preemptionPolicy match
  // manifests/priorityclasses.yaml so the guard and the manifests make the same objects.
  policy.priority_classes = {
      {"platform-infra-critical",
       {1000000, false, "ballast tier infra: cluster plumbing (mesh, monitoring, ballast itself).", ""}},
      {"platform-critical",
       {100000, false, "ballast tiers critical and stateful: user-facing services and databases.", ""}},
      {"platform-normal",
       {10000, true, "ballast tiers standard and scale-to-zero; the default for pods that name no class.", ""}},
      {"batch-low", {1000, false, "ballast tier batch: jobs that wait for spare capacity.", "Never"}},
  };
  return policy;
}

Result<TierPolicy> parse_policy(std::string_view yaml_text) {
  try {
    const Node root = YAML::Load(std::string(yaml_text));
    if (auto checked = check_yaml_document(root); !checked) {
      return invalid_argument("policy: " + checked.error().message);
    }
    return parse_root(root);
  } catch (const YAML::Exception& e) {
    return invalid_argument(std::string("policy: ") + e.what());
  }
}

Result<TierPolicy> load_policy(const std::string& path) {
  auto text = read_regular_file(path, kMaxYamlFileBytes);
  if (!text) return Error{text.error().code, "policy file: " + text.error().message};
  auto policy = parse_policy(*text);
  if (!policy) return Error{policy.error().code, path + ": " + policy.error().message};
  return policy;
}

bool skip_lists(std::string_view skip_value, std::string_view item) {
  size_t start = 0;
  while (start <= skip_value.size()) {
    size_t end = skip_value.find(',', start);
    if (end == std::string_view::npos) end = skip_value.size();
    std::string_view entry = skip_value.substr(start, end - start);
    const size_t first = entry.find_first_not_of(" \t");
    entry = first == std::string_view::npos ? std::string_view() : entry.substr(first, entry.find_last_not_of(" \t") - first + 1);
    if (entry == item) return true;
    start = end + 1;
  }
  return false;
}

bool defaults_off(std::string_view value) {
  constexpr std::string_view kSpace = " \t";
  const size_t first = value.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return false;
  value = value.substr(first, value.find_last_not_of(kSpace) - first + 1);
  return value.size() == 3 && std::tolower(static_cast<unsigned char>(value[0])) == 'o' &&
         std::tolower(static_cast<unsigned char>(value[1])) == 'f' &&
         std::tolower(static_cast<unsigned char>(value[2])) == 'f';
}

}  // namespace ballast::policy
