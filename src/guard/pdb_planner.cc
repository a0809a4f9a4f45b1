#include "guard/pdb_planner.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <tuple>

#include "guard/owned_object.h"
#include "kube/model/json_lookup.h"
#include "kube/model/label_selector.h"
#include "kube/model/object_meta.h"
#include "policy/defaulting.h"

namespace ballast::guard {
namespace {

using json = nlohmann::json;
using kube::child;
using kube::Labels;
using kube::LabelSelector;
using kube::path;
using kube::string_at;

// Kubernetes' limit for object names (DNS subdomain).
constexpr size_t kMaxNameLength = 253;

// The selector as ballast writes and compares it: only non-empty parts, so `{}` parts the
// apiserver may drop or keep never cause an update.
json normalized_selector(const json* selector) {
  if (selector == nullptr || !selector->is_object()) return nullptr;
  json out = json::object();
  for (const char* key : {"matchLabels", "matchExpressions"}) {
    const json* part = child(*selector, key);
    if (part != nullptr && !part->empty()) out[key] = *part;
  }
  return out;
}

struct Workload {
  const json* object = nullptr;
  policy::WorkloadKind kind = policy::WorkloadKind::kDeployment;
  std::string kind_name;  // Deployment | StatefulSet
  std::string ns;
  std::string name;
  std::string uid;
  Labels template_labels;
  LabelSelector selector;
  bool selector_ok = false;
};

struct Pdb {
  const json* object = nullptr;
  std::string ns;
  std::string name;
  bool owned = false;  // ballast's: the managed-by label and a controller ref to a workload
  std::string target;  // ballast's for this pdbTargets entry: the managed-by and pdb-target labels, no controller
  LabelSelector selector;
  bool selector_ok = false;
};

// The pdbTargets entry a PDB was made for, or "" (both marks, and no controller: the guard
// never takes over a PDB another controller owns).
std::string target_of(const json& pdb) {
  if (kube::label(pdb, kManagedByLabel) != kManagedByValue) return "";
  for (const auto& owner : kube::owner_references(pdb)) {
    if (owner.controller) return "";
  }
  return kube::label(pdb, kPdbTargetLabel);
}

int replicas_of(const json& workload) {
  const json* replicas = path(workload, {"spec", "replicas"});
  if (replicas == nullptr || !replicas->is_number_integer()) return 1;  // the apiserver's default
  return static_cast<int>(std::clamp<int64_t>(replicas->get<int64_t>(), 0, 1 << 30));
}

// (namespace, kind, name) → the lowest minReplicaCount of the ScaledObjects targeting it.
using ScaleKey = std::tuple<std::string, std::string, std::string>;

std::map<ScaleKey, int> keda_minimums(const std::vector<json>& scaled_objects) {
  std::map<ScaleKey, int> out;
  for (const auto& so : scaled_objects) {
    const std::string ns = kube::namespace_of(so);
    const json* target = path(so, {"spec", "scaleTargetRef"});
    if (ns.empty() || target == nullptr || is_terminating(so)) continue;
    const std::string name = string_at(*target, {"name"});
    std::string kind = string_at(*target, {"kind"});
    std::string api_version = string_at(*target, {"apiVersion"});
    if (kind.empty()) kind = "Deployment";  // KEDA's defaults
    if (api_version.empty()) api_version = "apps/v1";
    if (name.empty() || !api_version.starts_with("apps/")) continue;
    // KEDA's default minReplicaCount is 0; an unreadable one is treated the same (the safe side).
    int min = 0;
    const json* min_json = path(so, {"spec", "minReplicaCount"});
    if (min_json != nullptr && min_json->is_number_integer()) {
      min = static_cast<int>(std::clamp<int64_t>(min_json->get<int64_t>(), 0, 1 << 30));
    }
    const ScaleKey key{ns, kind, name};
    const auto it = out.find(key);
    if (it == out.end() || min < it->second) out[key] = min;
  }
  return out;
}

// An integer or percentage as written in the policy.
struct IntOrPercent {
  int number = 0;
  bool percent = false;
  bool ok = false;
};

IntOrPercent parse_int_or_percent(const std::string& text) {
  IntOrPercent out;
  out.percent = text.ends_with('%');
  const std::string_view digits(text.data(), text.size() - (out.percent ? 1 : 0));
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), out.number);
  out.ok = !digits.empty() && error == std::errc() && end == digits.data() + digits.size() && out.number >= 0;
  return out;
}

json int_or_percent_json(const IntOrPercent& value) {
  if (value.percent) return std::to_string(value.number) + "%";
  return value.number;
}

PdbBudget max_unavailable_one(std::string why) { return PdbBudget{"maxUnavailable", 1, std::move(why)}; }

json desired_pdb(const Workload& workload, const std::string& pdb_name, const std::string& tier,
                 const PdbBudget& budget) {
  json spec = {{"selector", normalized_selector(path(*workload.object, {"spec", "selector"}))},
               {budget.field, budget.value},
               {"unhealthyPodEvictionPolicy", "AlwaysAllow"}};
  return {{"apiVersion", "policy/v1"},
          {"kind", "PodDisruptionBudget"},
          {"metadata",
           {{"name", pdb_name},
            {"namespace", workload.ns},
            {"labels", {{kManagedByLabel, kManagedByValue}, {policy::kTierLabel, tier}}},
            {"ownerReferences", json::array({workload_owner_reference(workload.kind_name, workload.name, workload.uid)})}}},
          {"spec", std::move(spec)}};
}

// Compares only what ballast owns: its labels, its owner reference (PDBs of pdbTargets
// have none) and the spec.
bool owned_fields_match(const json& existing, const json& desired) {
  for (const auto& [key, value] : desired["metadata"]["labels"].items()) {
    if (kube::label(existing, key.c_str()) != value.get<std::string>()) return false;
  }
  if (desired["metadata"].contains("ownerReferences")) {
    if (!has_controller_owner(existing, desired["metadata"]["ownerReferences"][0])) return false;
  }
  const json* spec = child(existing, "spec");
  if (spec == nullptr || !spec->is_object()) return false;
  const json& want = desired["spec"];
  if (normalized_selector(child(*spec, "selector")) != want["selector"]) return false;
  for (const char* key : {"minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy"}) {
    const json* have = child(*spec, key);
    const bool wanted = want.contains(key);
    if ((have != nullptr) != wanted) return false;
    if (wanted && *have != want[key]) return false;
  }
  return true;
}

// The PUT body: the object as read (other labels, annotations and non-controller owners
// kept), with ballast's fields set.
json updated_pdb(const json& existing, const json& desired) {
  json out = existing;
  out.erase("status");
  json& metadata = out["metadata"];
  if (!metadata.contains("labels") || !metadata["labels"].is_object()) metadata["labels"] = json::object();
  for (const auto& [key, value] : desired["metadata"]["labels"].items()) metadata["labels"][key] = value;
  out["spec"] = desired["spec"];
  if (!desired["metadata"].contains("ownerReferences")) return out;
  metadata["ownerReferences"] = with_controller_owner(metadata, desired["metadata"]["ownerReferences"][0]);
  return out;
}

std::string budget_text(const PdbBudget& budget) {
  return budget.field + " " + (budget.value.is_string() ? budget.value.get<std::string>() : budget.value.dump());
}

// A policy budget for `n` replicas, clamped to maxUnavailable 1 where it would block every
// eviction (a zero maxUnavailable, or a minAvailable reaching the replica count).
PdbBudget budget_for(const policy::BudgetValue& rule, int n, std::string why) {
  using Kind = policy::BudgetKind;
  if (rule.kind == Kind::kMaxUnavailable) {
    const IntOrPercent value = parse_int_or_percent(rule.value);
    if (!value.ok || value.number == 0) return max_unavailable_one(why + "; a maxUnavailable of 0 would block evictions");
    return PdbBudget{"maxUnavailable", int_or_percent_json(value), std::move(why)};
  }
  IntOrPercent value;
  if (rule.kind == Kind::kQuorum) {
    value = IntOrPercent{n / 2 + 1, false, true};
    why = "quorum of " + std::to_string(n);
  } else {
    value = parse_int_or_percent(rule.value);
  }
  if (!value.ok) return max_unavailable_one(why + "; its minAvailable is unreadable");
  // minAvailable percentages round up (GetScaledValueFromIntOrPercent(..., true)).
  const long long required =
      value.percent ? (static_cast<long long>(value.number) * n + 99) / 100 : static_cast<long long>(value.number);
  if (required >= n) {
    return max_unavailable_one(why + "; minAvailable " + rule.value + " would block every eviction at " +
                               std::to_string(n) + " replicas");
  }
  return PdbBudget{"minAvailable", int_or_percent_json(value), std::move(why)};
}

// The budget as an integer minAvailable over `n` pods. The disruption controller computes a
// percentage or a maxUnavailable only for pods whose controller has a scale subresource,
// which an operator's pods may lack (bare pods always do); the guard counts the pods itself
// and re-plans when they change. Rounding as Kubernetes': both percentages round up.
PdbBudget as_min_available(const PdbBudget& budget, int n) {
  if (budget.field == "minAvailable" && budget.value.is_number_integer()) return budget;
  const auto scaled = [n](const json& value) {
    if (value.is_number_integer()) return value.get<int>();
    const IntOrPercent parsed = parse_int_or_percent(value.get<std::string>());
    return static_cast<int>((static_cast<long long>(parsed.number) * n + 99) / 100);
  };
  const int min_available = budget.field == "minAvailable" ? scaled(budget.value) : std::max(n - scaled(budget.value), 0);
  return PdbBudget{"minAvailable", min_available,
                   budget.why + "; " + budget_text(budget) + " of " + std::to_string(n) + " pods"};
}

class Planner {
 public:
  Planner(const policy::TierPolicy& policy, const PdbPlannerInput& input) : policy_(policy), input_(input) {}

  PdbPlan run() {
    index_namespaces();
    index_pdbs();
    index_workloads();
    keda_ = keda_minimums(input_.scaled_objects);
    for (size_t i = 0; i < workloads_.size(); ++i) plan_workload(i);
    for (const auto& target : policy_.pdb_targets) plan_target(target);
    for (const Pdb& pdb : pdbs_) {
      if ((pdb.owned || !pdb.target.empty()) && claimed_.count({pdb.ns, pdb.name}) == 0) delete_pdb(pdb);
    }
    PdbPlan plan;
    plan.actions.reserve(deletes_.size() + updates_.size() + creates_.size());
    for (auto& action : deletes_) plan.actions.emplace_back(std::in_place_type<DeletePdb>, std::move(action));
    for (auto& action : updates_) plan.actions.emplace_back(std::in_place_type<UpdatePdb>, std::move(action));
    for (auto& action : creates_) plan.actions.emplace_back(std::in_place_type<CreatePdb>, std::move(action));
    plan.notes = std::move(notes_);
    return plan;
  }

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, name

  void index_namespaces() {
    for (const auto& ns : input_.namespaces) {
      const std::string name = kube::name(ns);
      if (!name.empty()) namespaces_[name] = &ns;
    }
  }

  void index_pdbs() {
    for (const auto& object : input_.pdbs) {
      Pdb pdb{&object, kube::namespace_of(object), kube::name(object), is_owned_by_workload(object), target_of(object), {}, false};
      if (pdb.ns.empty() || pdb.name.empty()) continue;
      const json* selector = path(object, {"spec", "selector"});
      if (auto parsed = LabelSelector::parse(selector != nullptr ? *selector : json()); parsed) {
        pdb.selector = std::move(*parsed);
        pdb.selector_ok = true;
      }
      pdbs_.push_back(std::move(pdb));
    }
    std::sort(pdbs_.begin(), pdbs_.end(), [](const Pdb& a, const Pdb& b) {
      return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
    });
    for (size_t i = 0; i < pdbs_.size(); ++i) pdb_by_name_[{pdbs_[i].ns, pdbs_[i].name}] = i;
  }

  void index_workloads() {
    const auto add = [&](const std::vector<json>& objects, policy::WorkloadKind kind, const char* kind_name) {
      for (const auto& object : objects) {
        Workload workload;
        workload.object = &object;
        workload.kind = kind;
        workload.kind_name = kind_name;
        workload.ns = kube::namespace_of(object);
        workload.name = kube::name(object);
        workload.uid = kube::uid(object);
        workload.template_labels = kube::string_map(path(object, {"spec", "template", "metadata", "labels"}));
        const json* selector = path(object, {"spec", "selector"});
        if (auto parsed = LabelSelector::parse(selector != nullptr ? *selector : json()); parsed) {
          workload.selector = std::move(*parsed);
          workload.selector_ok = true;
        }
        workloads_.push_back(std::move(workload));
      }
    };
    add(input_.deployments, policy::WorkloadKind::kDeployment, "Deployment");
    add(input_.stateful_sets, policy::WorkloadKind::kStatefulSet, "StatefulSet");
    // Input order is the watch cache's; the overlap rule below is first come, first served,
    // so sort to keep plans stable across runs.
    std::sort(workloads_.begin(), workloads_.end(), [](const Workload& a, const Workload& b) {
      return std::tie(a.ns, a.kind_name, a.name) < std::tie(b.ns, b.kind_name, b.name);
    });
    for (size_t i = 0; i < workloads_.size(); ++i) by_namespace_[workloads_[i].ns].push_back(i);
  }

  void note(const Workload& workload, PdbNote::Reason reason, std::string message, std::string other_pdb = {}) {
    notes_.push_back(PdbNote{reason, workload.ns, workload.kind_name, workload.name, std::move(other_pdb),
                             std::move(message)});
  }

  // The workloads (same namespace) whose pods `selector` selects: pods are approximated by
  // their workload's template labels; pods of other controllers are not seen.
  std::vector<size_t> covered_by(const LabelSelector& selector, const std::string& ns) const {
    std::vector<size_t> out;
    const auto it = by_namespace_.find(ns);
    if (it == by_namespace_.end()) return out;
    for (size_t i : it->second) {
      if (selector.matches(workloads_[i].template_labels)) out.push_back(i);
    }
    return out;
  }

  const Pdb* foreign_overlap(const Workload& workload, const std::vector<size_t>& coverage) const {
    for (const Pdb& pdb : pdbs_) {
      if (pdb.ns != workload.ns || pdb.owned) continue;
      // The apiserver validates selectors; one we cannot read is assumed to overlap.
      if (!pdb.selector_ok || pdb.selector.matches(workload.template_labels)) return &pdb;
      for (size_t i : coverage) {
        if (pdb.selector.matches(workloads_[i].template_labels)) return &pdb;
      }
    }
    return nullptr;
  }

  void plan_workload(size_t index) {
    const Workload& workload = workloads_[index];
    if (workload.ns.empty() || workload.name.empty()) {
      note(workload, PdbNote::Reason::kInvalidObject, "ballast: workload without name or namespace ignored");
      return;
    }
    const std::string pdb_name = workload.name + kPdbNameSuffix;
    const Key key{workload.ns, pdb_name};
    const auto ns_it = namespaces_.find(workload.ns);
    const json* ns_object = ns_it == namespaces_.end() ? nullptr : ns_it->second;
    // Going away (or its namespace is): garbage collection removes our PDB; touch nothing.
    if (is_terminating(*workload.object) || (ns_object != nullptr && is_terminating(*ns_object))) {
      claimed_.insert(key);
      return;
    }
    if (const std::string why = opt_out_reason(*workload.object, "pdb"); !why.empty()) {
      return note(workload, PdbNote::Reason::kOptedOut, "ballast: no PDB: " + why);
    }
    if (workload.uid.empty()) {
      return note(workload, PdbNote::Reason::kInvalidObject, "ballast: no PDB: the workload has no uid to own it");
    }

    // The webhook's own choice (it never sees Namespace objects), so both agree on the tier.
    policy::TierChoice choice = policy::select_tier(*workload.object, workload.kind, workload.ns, policy_);
    for (auto& warning : choice.warnings) note(workload, PdbNote::Reason::kUnknownTier, std::move(warning));
    const policy::Tier& tier = *choice.tier;
    const auto keda = keda_.find({workload.ns, workload.kind_name, workload.name});
    const std::optional<int> keda_min =
        keda == keda_.end() ? std::nullopt : std::optional<int>(keda->second);
    const int replicas = replicas_of(*workload.object);
    const std::optional<PdbBudget> budget = pdb_budget(tier.pdb, replicas, keda_min);
    if (!budget) {
      return note(workload, PdbNote::Reason::kTierHasNoPdb, "ballast: no PDB: tier " + tier.name + " has none");
    }
    if (!workload.selector_ok || workload.selector.is_null() || workload.selector.is_everything()) {
      return note(workload, PdbNote::Reason::kNoSelector,
                  "ballast: no PDB: spec.selector is missing, empty or unreadable");
    }
    if (pdb_name.size() > kMaxNameLength) {
      return note(workload, PdbNote::Reason::kNameTaken, "ballast: no PDB: " + pdb_name + " is too long a name");
    }

    const std::vector<size_t> coverage = covered_by(workload.selector, workload.ns);
    if (const Pdb* foreign = foreign_overlap(workload, coverage); foreign != nullptr) {
      return note(workload, PdbNote::Reason::kForeignPdbOverlap,
                  "ballast: no PDB: PodDisruptionBudget " + foreign->name +
                      " already selects these pods (a pod under two PDBs cannot be evicted)",
                  foreign->name);
    }
    for (const auto& [other_key, other_coverage] : desired_coverage_) {
      if (other_key.first != workload.ns) continue;
      const bool shared = std::any_of(coverage.begin(), coverage.end(), [&](size_t i) {
        return std::find(other_coverage.begin(), other_coverage.end(), i) != other_coverage.end();
      }) || std::find(other_coverage.begin(), other_coverage.end(), index) != other_coverage.end();
      if (shared) {
        return note(workload, PdbNote::Reason::kBallastPdbOverlap,
                    "ballast: no PDB: ballast's PodDisruptionBudget " + other_key.second +
                        " already selects these pods (workloads with overlapping selectors)",
                    other_key.second);
      }
    }

    const auto existing_it = pdb_by_name_.find(key);
    const Pdb* existing = existing_it == pdb_by_name_.end() ? nullptr : &pdbs_[existing_it->second];
    if (existing != nullptr && !existing->owned) {
      return note(workload, PdbNote::Reason::kNameTaken,
                  "ballast: no PDB: PodDisruptionBudget " + pdb_name + " exists and is not ballast's", pdb_name);
    }
    if (claimed_.count(key) > 0) {
      return note(workload, PdbNote::Reason::kNameTaken,
                  "ballast: no PDB: " + pdb_name + " is already the PDB of another workload of that name", pdb_name);
    }

    claimed_.insert(key);
    desired_coverage_[key] = coverage;
    json desired = desired_pdb(workload, pdb_name, tier.name, *budget);
    const std::string reason = "tier " + tier.name + " (" + choice.source + "), " + std::to_string(replicas) +
                               " replicas: " + budget_text(*budget) + " (" + budget->why + ")";
    if (existing == nullptr) {
      creates_.push_back(CreatePdb{std::move(desired), reason});
    } else if (!owned_fields_match(*existing->object, desired)) {
      updates_.push_back(UpdatePdb{workload.ns, pdb_name, kube::resource_version(*existing->object),
                                   updated_pdb(*existing->object, desired), reason});
    }
  }

  // A PDB over pods no workload owns (an operator's), from the policy's pdbTargets.
  void plan_target(const policy::PdbTarget& target) {
    const std::string pdb_name = target.name + kPdbNameSuffix;
    const Key key{target.ns, pdb_name};
    const auto note_target = [&](PdbNote::Reason reason, std::string message, std::string other = {}) {
      notes_.push_back(PdbNote{reason, target.ns, "PodDisruptionBudget", pdb_name, std::move(other),
                               std::move(message)});
    };
    const auto ns_it = namespaces_.find(target.ns);
    if (ns_it != namespaces_.end() && is_terminating(*ns_it->second)) {
      claimed_.insert(key);
      return;
    }
    std::vector<Labels> pods;
    const auto pods_it = input_.target_pods.find(target.ns + "/" + target.name);
    if (pods_it != input_.target_pods.end()) {
      for (const auto& pod : pods_it->second) {
        const std::string phase = string_at(pod, {"status", "phase"});
        if (is_terminating(pod) || phase == "Succeeded" || phase == "Failed") continue;
        pods.push_back(kube::string_map(path(pod, {"metadata", "labels"})));
      }
    }
    for (const Pdb& pdb : pdbs_) {
      if (pdb.ns != target.ns || (pdb.name == pdb_name && pdb.target == target.name)) continue;
      if (pdb.name == pdb_name) {
        return note_target(PdbNote::Reason::kNameTaken,
                           "ballast: no PDB for pdbTargets " + target.name + ": PodDisruptionBudget " + pdb_name +
                               " exists and is not this target's",
                           pdb_name);
      }
      const bool overlaps = !pdb.selector_ok || std::any_of(pods.begin(), pods.end(), [&](const Labels& labels) {
        return pdb.selector.matches(labels);
      });
      if (overlaps) {
        return note_target(PdbNote::Reason::kForeignPdbOverlap,
                           "ballast: no PDB for pdbTargets " + target.name + ": PodDisruptionBudget " + pdb.name +
                               " already selects these pods (a pod under two PDBs cannot be evicted)",
                           pdb.name);
      }
    }
    claimed_.insert(key);
    const int n = static_cast<int>(pods.size());
    const PdbBudget budget = as_min_available(budget_for(target.budget, n, "policy pdbTargets " + target.name), n);
    json selector = {{"matchLabels", target.match_labels}};
    json desired = {{"apiVersion", "policy/v1"},
                    {"kind", "PodDisruptionBudget"},
                    {"metadata",
                     {{"name", pdb_name},
                      {"namespace", target.ns},
                      {"labels", {{kManagedByLabel, kManagedByValue}, {kPdbTargetLabel, target.name}}}}},
                    {"spec",
                     {{"selector", std::move(selector)},
                      {budget.field, budget.value},
                      {"unhealthyPodEvictionPolicy", "AlwaysAllow"}}}};
    const std::string reason = std::to_string(n) + " pods: " + budget_text(budget) + " (" + budget.why + ")";
    const auto existing_it = pdb_by_name_.find(key);
    if (existing_it == pdb_by_name_.end()) {
      creates_.push_back(CreatePdb{std::move(desired), reason});
    } else if (const Pdb& existing = pdbs_[existing_it->second]; !owned_fields_match(*existing.object, desired)) {
      updates_.push_back(UpdatePdb{target.ns, pdb_name, kube::resource_version(*existing.object),
                                   updated_pdb(*existing.object, desired), reason});
    }
  }

  void delete_pdb(const Pdb& pdb) {
    deletes_.push_back(DeletePdb{pdb.ns, pdb.name, kube::uid(*pdb.object), kube::resource_version(*pdb.object),
                                 pdb.target.empty()
                                     ? "no workload the policy covers wants it (opted out, no PDB for its tier, "
                                       "another PDB selects its pods, or the workload is gone)"
                                     : "the policy's pdbTargets no longer name " + pdb.target +
                                           " here, or another PDB selects its pods"});
  }

  const policy::TierPolicy& policy_;
  const PdbPlannerInput& input_;
  std::map<std::string, const json*> namespaces_;
  std::vector<Pdb> pdbs_;
  std::map<Key, size_t> pdb_by_name_;
  std::vector<Workload> workloads_;
  std::map<std::string, std::vector<size_t>> by_namespace_;
  std::map<ScaleKey, int> keda_;
  std::set<Key> claimed_;                               // PDB names planned for (or left to) a workload
  std::map<Key, std::vector<size_t>> desired_coverage_; // planned PDBs → the workloads they select
  std::vector<DeletePdb> deletes_;
  std::vector<UpdatePdb> updates_;
  std::vector<CreatePdb> creates_;
  std::vector<PdbNote> notes_;
};

}  // namespace

std::optional<PdbBudget> pdb_budget(const policy::PdbRule& rule, int replicas, std::optional<int> keda_min_replicas) {
  if (rule.kind == policy::BudgetKind::kNone) return std::nullopt;
  if (keda_min_replicas && *keda_min_replicas <= 0) {
    return budget_for(rule.scaled_to_zero, std::max(replicas, 0), "its ScaledObject may scale it to zero");
  }
  if (keda_min_replicas && *keda_min_replicas >= 2) {
    return budget_for(rule.keda_min_two_or_more, std::max(replicas, *keda_min_replicas),
                      "its ScaledObject keeps at least " + std::to_string(*keda_min_replicas) + " replicas");
  }
  // A ScaledObject with minReplicaCount 1 acts like an HPA: the tier rule applies to the
  // current replica count, re-planned whenever KEDA changes it.
  const int n = std::max(replicas, keda_min_replicas.value_or(0));
  if (n <= 1) return max_unavailable_one("1 replica or fewer");
  if (n < rule.min_replicas) {
    return max_unavailable_one("below the tier's " + std::to_string(rule.min_replicas) + " replicas");
  }
  return budget_for(policy::BudgetValue{rule.kind, rule.value}, n, "tier rule");
}

PdbPlan plan_pdbs(const policy::TierPolicy& policy, const PdbPlannerInput& input) {
  return Planner(policy, input).run();
}

}  // namespace ballast::guard
