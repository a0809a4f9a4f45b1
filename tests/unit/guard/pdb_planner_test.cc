#include "guard/pdb_planner.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <catch2/catch.hpp>

using namespace ballast;
using namespace ballast::guard;
using json = nlohmann::json;

namespace {

struct WorkloadSpec {
  std::string ns = "shop";
  std::string name = "web";
  std::optional<int> replicas = 3;
  json labels = json::object();          // on the workload
  json annotations = json::object();     // on the workload
  json template_labels = json::object(); // extra pod template labels (app=<name> is always there)
};

json workload(const WorkloadSpec& spec) {
  json object;
  object["metadata"] = {{"namespace", spec.ns},
                        {"name", spec.name},
                        {"uid", "uid-" + spec.ns + "-" + spec.name},
                        {"resourceVersion", "10"},
                        {"labels", spec.labels},
                        {"annotations", spec.annotations}};
  object["spec"]["selector"]["matchLabels"]["app"] = spec.name;
  json& pod_template = object["spec"]["template"];
  pod_template["metadata"]["labels"]["app"] = spec.name;
  for (const auto& [key, value] : spec.template_labels.items()) pod_template["metadata"]["labels"][key] = value;
  pod_template["spec"]["containers"] = json::array();
  if (spec.replicas) object["spec"]["replicas"] = *spec.replicas;
  return object;
}

json scaled_object(const std::string& ns, const std::string& target, std::optional<int> min_replicas,
                   const std::string& kind = "") {
  json object = {{"metadata", {{"namespace", ns}, {"name", target + "-so"}}},
                 {"spec", {{"scaleTargetRef", {{"name", target}}}, {"maxReplicaCount", 10}}}};
  if (!kind.empty()) object["spec"]["scaleTargetRef"]["kind"] = kind;
  if (min_replicas) object["spec"]["minReplicaCount"] = *min_replicas;
  return object;
}

json user_pdb(const std::string& ns, const std::string& name, json selector, json labels = json::object()) {
  return {{"metadata", {{"namespace", ns}, {"name", name}, {"uid", "uid-" + name}, {"resourceVersion", "5"},
                        {"labels", std::move(labels)}}},
          {"spec", {{"selector", std::move(selector)}, {"minAvailable", 1}}}};
}

json namespace_object(const std::string& name, json labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", std::move(labels)}}}, {"status", {{"phase", "Active"}}}};
}

// What the apiserver does with the actions: enough of it for re-planning.
void apply(const PdbPlan& plan, PdbPlannerInput& input) {
  static int counter = 100;
  for (const auto& action : plan.actions) {
    if (const auto* create = std::get_if<CreatePdb>(&action)) {
      json object = create->pdb;
      object["metadata"]["uid"] = "pdb-uid-" + std::to_string(++counter);
      object["metadata"]["resourceVersion"] = std::to_string(++counter);
      object["status"] = {{"disruptionsAllowed", 1}};
      input.pdbs.push_back(std::move(object));
    } else if (const auto* update = std::get_if<UpdatePdb>(&action)) {
      for (auto& object : input.pdbs) {
        if (object["metadata"]["namespace"] != update->ns || object["metadata"]["name"] != update->name) continue;
        REQUIRE(object["metadata"]["resourceVersion"] == update->resource_version);
        object = update->pdb;
        object["metadata"]["resourceVersion"] = std::to_string(++counter);
      }
    } else if (const auto* remove = std::get_if<DeletePdb>(&action)) {
      const auto before = input.pdbs.size();
      input.pdbs.erase(std::remove_if(input.pdbs.begin(), input.pdbs.end(),
                                      [&](const json& object) {
                                        return object["metadata"]["namespace"] == remove->ns &&
                                               object["metadata"]["name"] == remove->name &&
                                               object["metadata"]["uid"] == remove->uid &&
                                               object["metadata"]["resourceVersion"] == remove->resource_version;
                                      }),
                       input.pdbs.end());
      REQUIRE(input.pdbs.size() == before - 1);  // the preconditions held
    }
  }
}

template <typename T>
std::vector<const T*> actions_of(const PdbPlan& plan) {
  std::vector<const T*> out;
  for (const auto& action : plan.actions) {
    if (const auto* typed = std::get_if<T>(&action)) out.push_back(typed);
  }
  return out;
}

const PdbNote* find_note(const PdbPlan& plan, PdbNote::Reason reason) {
  for (const auto& note : plan.notes) {
    if (note.reason == reason) return &note;
  }
  return nullptr;
}

// The budget the single created PDB carries, as "minAvailable=2" / "maxUnavailable=\"50%\"", or "none".
std::string created_budget(const PdbPlan& plan) {
  const auto creates = actions_of<CreatePdb>(plan);
  if (creates.empty()) return "none";
  REQUIRE(creates.size() == 1);
  const json& spec = creates[0]->pdb["spec"];
  for (const char* field : {"minAvailable", "maxUnavailable"}) {
    if (spec.contains(field)) return std::string(field) + "=" + spec[field].dump();
  }
  return "empty";
}

// Plans, applies, and checks a second plan over the result is empty.
PdbPlan plan_apply_and_converge(const policy::TierPolicy& policy, PdbPlannerInput& input) {
  PdbPlan plan = plan_pdbs(policy, input);
  apply(plan, input);
  const PdbPlan again = plan_pdbs(policy, input);
  CHECK(again.actions.empty());
  return plan;
}

}  // namespace

TEST_CASE("every tier gets its PDB budget at 0, 1, 2, 3 and 5 replicas", "[guard]") {
  struct Row {
    const char* tier;
    int replicas;
    const char* budget;
  };
  const Row rows[] = {
      {"infra", 0, "maxUnavailable=1"},         {"infra", 1, "maxUnavailable=1"},
      {"infra", 2, "maxUnavailable=1"},         {"infra", 3, "minAvailable=2"},
      {"infra", 5, "minAvailable=2"},           {"critical", 0, "maxUnavailable=1"},
      {"critical", 1, "maxUnavailable=1"},      {"critical", 2, "minAvailable=1"},
      {"critical", 3, "minAvailable=1"},        {"critical", 5, "minAvailable=1"},
      {"standard", 0, "maxUnavailable=1"},      {"standard", 1, "maxUnavailable=1"},
      {"standard", 2, "minAvailable=1"},        {"standard", 3, "minAvailable=1"},
      {"standard", 5, "minAvailable=1"},        {"stateful", 0, "maxUnavailable=1"},
      {"stateful", 1, "maxUnavailable=1"},      {"stateful", 2, "maxUnavailable=1"},
      {"stateful", 3, "minAvailable=2"},        {"stateful", 5, "minAvailable=3"},
      {"scale-to-zero", 0, "maxUnavailable=1"}, {"scale-to-zero", 1, "maxUnavailable=1"},
      {"scale-to-zero", 2, "maxUnavailable=1"}, {"scale-to-zero", 3, "maxUnavailable=1"},
      {"scale-to-zero", 5, "maxUnavailable=1"}, {"batch", 0, "none"},
      {"batch", 1, "none"},                     {"batch", 2, "none"},
      {"batch", 3, "none"},                     {"batch", 5, "none"},
  };
  const auto policy = policy::default_policy();
  for (const auto& row : rows) {
    for (const bool stateful_set : {false, true}) {
      INFO(row.tier << " at " << row.replicas << (stateful_set ? " (StatefulSet)" : " (Deployment)"));
      PdbPlannerInput input;
      const json object = workload({.replicas = row.replicas, .labels = {{"ballast.dev/tier", row.tier}}});
      (stateful_set ? input.stateful_sets : input.deployments).push_back(object);
      const PdbPlan plan = plan_apply_and_converge(policy, input);
      CHECK(created_budget(plan) == row.budget);
      if (std::string(row.budget) == "none") {
        CHECK(find_note(plan, PdbNote::Reason::kTierHasNoPdb) != nullptr);
      } else {
        CHECK(actions_of<CreatePdb>(plan)[0]->pdb["metadata"]["labels"]["ballast.dev/tier"] == row.tier);
      }
    }
  }
}

TEST_CASE("a missing replica count means one replica", "[guard]") {
  PdbPlannerInput input;
  input.deployments.push_back(workload({.replicas = std::nullopt}));
  CHECK(created_budget(plan_pdbs(policy::default_policy(), input)) == "maxUnavailable=1");
}

TEST_CASE("the guard's PDB is CONTRACT.md's object", "[guard]") {
  PdbPlannerInput input;
  json object = workload({.name = "api", .replicas = 3});
  object["spec"]["selector"] = {{"matchLabels", {{"app", "api"}}},
                                {"matchExpressions", {{{"key", "track"}, {"operator", "NotIn"}, {"values", {"canary"}}}}}};
  input.stateful_sets.push_back(object);
  const PdbPlan plan = plan_pdbs(policy::default_policy(), input);
  REQUIRE(plan.actions.size() == 1);
  const auto* create = std::get_if<CreatePdb>(&plan.actions[0]);
  REQUIRE(create != nullptr);
  const json expected = json::parse(R"({
    "apiVersion": "policy/v1",
    "kind": "PodDisruptionBudget",
    "metadata": {
      "name": "api-ballast",
      "namespace": "shop",
      "labels": {"app.kubernetes.io/managed-by": "ballast", "ballast.dev/tier": "stateful"},
      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "api", "uid": "uid-shop-api",
                           "controller": true, "blockOwnerDeletion": false}]
    },
    "spec": {
      "selector": {"matchLabels": {"app": "api"},
                   "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]},
      "minAvailable": 2,
      "unhealthyPodEvictionPolicy": "AlwaysAllow"
    }
  })");
  CHECK(create->pdb == expected);
  CHECK_THAT(create->reason, Catch::Contains("tier stateful (kind)"));
}

TEST_CASE("a ScaledObject's minReplicaCount overrides the tier rule", "[guard]") {
  struct Row {
    const char* tier;
    int replicas;
    std::optional<int> min;  // nullopt: minReplicaCount absent (KEDA's default 0)
    const char* budget;
  };
  const Row rows[] = {
      {"standard", 5, std::nullopt, "maxUnavailable=1"},
      {"standard", 5, 0, "maxUnavailable=1"},
      {"infra", 5, 0, "maxUnavailable=1"},
      {"stateful", 5, 0, "maxUnavailable=1"},
      {"standard", 5, 2, "maxUnavailable=\"50%\""},
      {"infra", 3, 2, "maxUnavailable=\"50%\""},
      {"stateful", 5, 3, "maxUnavailable=\"50%\""},
      {"standard", 0, 2, "maxUnavailable=\"50%\""},
      {"standard", 3, 1, "minAvailable=1"},  // min 1: the tier rule on the current replicas
      {"standard", 1, 1, "maxUnavailable=1"},
      {"batch", 5, 2, "none"},               // a tier without PDB stays without
  };
  const auto policy = policy::default_policy();
  for (const auto& row : rows) {
    INFO(row.tier << " replicas " << row.replicas << " min " << (row.min ? std::to_string(*row.min) : "absent"));
    PdbPlannerInput input;
    input.deployments.push_back(workload({.replicas = row.replicas, .labels = {{"ballast.dev/tier", row.tier}}}));
    input.scaled_objects.push_back(scaled_object("shop", "web", row.min));
    CHECK(created_budget(plan_apply_and_converge(policy, input)) == row.budget);
  }
}

TEST_CASE("a ScaledObject counts only for the workload it targets", "[guard]") {
  const auto policy = policy::default_policy();
  struct Row {
    json scaled_object;
    const char* budget;
  };
  json other_api = scaled_object("shop", "web", 0);
  other_api["spec"]["scaleTargetRef"]["apiVersion"] = "argoproj.io/v1alpha1";
  other_api["spec"]["scaleTargetRef"]["kind"] = "Rollout";
  const Row rows[] = {
      {scaled_object("shop", "web", 0), "maxUnavailable=1"},
      {scaled_object("shop", "web", 0, "Deployment"), "maxUnavailable=1"},
      {scaled_object("shop", "other", 0), "minAvailable=1"},
      {scaled_object("cart", "web", 0), "minAvailable=1"},
      {scaled_object("shop", "web", 0, "StatefulSet"), "minAvailable=1"},
      {other_api, "minAvailable=1"},
  };
  for (const auto& row : rows) {
    INFO(row.scaled_object.dump());
    PdbPlannerInput input;
    input.deployments.push_back(workload({.replicas = 3}));
    input.scaled_objects.push_back(row.scaled_object);
    CHECK(created_budget(plan_pdbs(policy, input)) == row.budget);
  }
  PdbPlannerInput stateful;
  stateful.stateful_sets.push_back(workload({.replicas = 5}));
  stateful.scaled_objects.push_back(scaled_object("shop", "web", 2, "StatefulSet"));
  CHECK(created_budget(plan_pdbs(policy, stateful)) == "maxUnavailable=\"50%\"");
}

TEST_CASE("the tier is chosen as the webhook chooses it and Namespace labels are ignored", "[guard]") {
  struct Row {
    const char* ns;
    json ns_labels;
    json workload_labels;
    json template_labels;
    bool stateful_set;
    const char* tier;
  };
  const Row rows[] = {
      {"shop", json::object(), json::object(), json::object(), false, "standard"},
      {"shop", json::object(), json::object(), json::object(), true, "stateful"},
      {"ai-services", json::object(), json::object(), json::object(), false, "scale-to-zero"},
      {"ai-services", json::object(), json::object(), json::object(), true, "scale-to-zero"},
      {"shop", {{"ballast.dev/tier", "infra"}}, json::object(), json::object(), false, "standard"},
      {"shop", json::object(), {{"ballast.dev/tier", "critical"}}, json::object(), false, "critical"},
      {"databases", json::object(), json::object(), {{"ballast.dev/tier", "critical"}}, false, "critical"},
      {"shop", json::object(), {{"ballast.dev/tier", "gold"}}, json::object(), false, "standard"},
  };
  for (const auto& row : rows) {
    INFO(row.ns << " " << row.ns_labels.dump() << " " << row.workload_labels.dump() << " "
                << row.template_labels.dump() << (row.stateful_set ? " StatefulSet" : " Deployment"));
    PdbPlannerInput input;
    input.namespaces.push_back(namespace_object(row.ns, row.ns_labels));
    const json object =
        workload({.ns = row.ns, .labels = row.workload_labels, .template_labels = row.template_labels});
    (row.stateful_set ? input.stateful_sets : input.deployments).push_back(object);
    const PdbPlan plan = plan_pdbs(policy::default_policy(), input);
    const auto creates = actions_of<CreatePdb>(plan);
    REQUIRE(creates.size() == 1);
    CHECK(creates[0]->pdb["metadata"]["labels"]["ballast.dev/tier"] == row.tier);
  }
  PdbPlannerInput unknown;
  unknown.deployments.push_back(workload({.labels = {{"ballast.dev/tier", "gold"}}}));
  const PdbPlan unknown_plan = plan_pdbs(policy::default_policy(), unknown);  // the note points into it
  const PdbNote* note = find_note(unknown_plan, PdbNote::Reason::kUnknownTier);
  REQUIRE(note != nullptr);
  CHECK_THAT(note->message, Catch::Contains("gold"));
}

TEST_CASE("a user PDB over the same pods means no ballast PDB, and ballast's goes", "[guard]") {
  const auto policy = policy::default_policy();
  struct Row {
    json selector;
    bool overlaps;
  };
  const Row rows[] = {
      {{{"matchLabels", {{"app", "web"}}}}, true},
      {json::object(), true},  // every pod of the namespace
      {{{"matchExpressions", {{{"key", "app"}, {"operator", "In"}, {"values", {"web", "api"}}}}}}, true},
      {{{"matchExpressions", {{{"key", "app"}, {"operator", "Exists"}}}}}, true},
      {{{"matchLabels", {{"app", "api"}}}}, false},
      {{{"matchExpressions", {{{"key", "app"}, {"operator", "NotIn"}, {"values", {"web"}}}}}}, false},
      {{{"matchExpressions", {{{"key", "app"}, {"operator", "DoesNotExist"}}}}}, false},
      {nullptr, false},  // a null selector selects nothing
  };
  for (const auto& row : rows) {
    INFO(row.selector.dump());
    // First without a ballast PDB, then with one from an earlier plan.
    PdbPlannerInput input;
    input.deployments.push_back(workload({}));
    PdbPlannerInput with_ours = input;
    apply(plan_pdbs(policy, with_ours), with_ours);
    REQUIRE(with_ours.pdbs.size() == 1);
    for (PdbPlannerInput* case_input : {&input, &with_ours}) {
      case_input->pdbs.push_back(user_pdb("shop", "web-user", row.selector));
      const PdbPlan plan = plan_pdbs(policy, *case_input);
      if (row.overlaps) {
        CHECK(actions_of<CreatePdb>(plan).empty());
        CHECK(actions_of<UpdatePdb>(plan).empty());
        const PdbNote* note = find_note(plan, PdbNote::Reason::kForeignPdbOverlap);
        REQUIRE(note != nullptr);
        CHECK(note->other_pdb == "web-user");
        CHECK(note->name == "web");
        const auto deletes = actions_of<DeletePdb>(plan);
        CHECK(deletes.size() == (case_input == &with_ours ? 1u : 0u));
        for (const auto* remove : deletes) CHECK(remove->name == "web-ballast");
      } else {
        CHECK(find_note(plan, PdbNote::Reason::kForeignPdbOverlap) == nullptr);
        CHECK(actions_of<DeletePdb>(plan).empty());
        CHECK(plan.actions.size() == (case_input == &with_ours ? 0u : 1u));
      }
      apply(plan, *case_input);
      CHECK(plan_pdbs(policy, *case_input).actions.empty());
    }
  }
}

TEST_CASE("a user PDB in another namespace does not count as overlap", "[guard]") {
  PdbPlannerInput input;
  input.deployments.push_back(workload({}));
  input.pdbs.push_back(user_pdb("cart", "web-user", {{"matchLabels", {{"app", "web"}}}}));
  CHECK(actions_of<CreatePdb>(plan_pdbs(policy::default_policy(), input)).size() == 1);
}

TEST_CASE("a wider ballast selector that would cover a user PDB's pods makes no PDB", "[guard]") {
  // web selects app=web; web-canary's pods (app=web, track=canary) are under the user PDB.
  PdbPlannerInput input;
  input.deployments.push_back(workload({.name = "web"}));
  json canary = workload({.name = "web-canary", .template_labels = {{"track", "canary"}}});
  canary["spec"]["template"]["metadata"]["labels"]["app"] = "web";
  canary["spec"]["selector"] = {{"matchLabels", {{"app", "web"}, {"track", "canary"}}}};
  input.deployments.push_back(canary);
  input.pdbs.push_back(user_pdb("shop", "canary-user", {{"matchLabels", {{"track", "canary"}}}}));
  const PdbPlan plan = plan_pdbs(policy::default_policy(), input);
  CHECK(plan.actions.empty());
  CHECK(std::count_if(plan.notes.begin(), plan.notes.end(), [](const PdbNote& note) {
          return note.reason == PdbNote::Reason::kForeignPdbOverlap && note.other_pdb == "canary-user";
        }) == 2);
}

TEST_CASE("workloads with overlapping selectors get one ballast PDB, the same on every plan", "[guard]") {
  PdbPlannerInput input;
  json b = workload({.name = "b"});
  b["spec"]["selector"] = {{"matchLabels", {{"app", "shared"}}}};
  b["spec"]["template"]["metadata"]["labels"]["app"] = "shared";
  json a = b;
  a["metadata"]["name"] = "a";
  a["metadata"]["uid"] = "uid-a";
  input.deployments = {b, a};  // input order does not matter
  const PdbPlan plan = plan_apply_and_converge(policy::default_policy(), input);
  const auto creates = actions_of<CreatePdb>(plan);
  REQUIRE(creates.size() == 1);
  CHECK(creates[0]->pdb["metadata"]["name"] == "a-ballast");
  const PdbNote* note = find_note(plan, PdbNote::Reason::kBallastPdbOverlap);
  REQUIRE(note != nullptr);
  CHECK(note->name == "b");
  CHECK(note->other_pdb == "a-ballast");
}

TEST_CASE("a workload opts out with either annotation, and ballast's PDB goes", "[guard]") {
  struct Row {
    json annotations;
    bool on_template;
    bool opted_out;
  };
  const Row rows[] = {
      {{{"ballast.dev/defaults", "off"}}, false, true},
      {{{"ballast.dev/skip", "pdb"}}, false, true},
      {{{"ballast.dev/skip", "spread, pdb"}}, false, true},
      {{{"ballast.dev/skip", "pdb"}}, true, true},
      {{{"ballast.dev/defaults", "off"}}, true, true},
      {{{"ballast.dev/skip", "spread,priority"}}, false, false},
      {{{"ballast.dev/skip", "pdbs"}}, false, false},
      {{{"ballast.dev/defaults", "on"}}, false, false},
  };
  const auto policy = policy::default_policy();
  for (const auto& row : rows) {
    INFO(row.annotations.dump() << (row.on_template ? " on the template" : " on the workload"));
    PdbPlannerInput input;
    input.deployments.push_back(workload({}));
    apply(plan_pdbs(policy, input), input);
    REQUIRE(input.pdbs.size() == 1);
    json& object = input.deployments[0];
    if (row.on_template) {
      object["spec"]["template"]["metadata"]["annotations"] = row.annotations;
    } else {
      object["metadata"]["annotations"] = row.annotations;
    }
    const PdbPlan plan = plan_pdbs(policy, input);
    if (row.opted_out) {
      const auto deletes = actions_of<DeletePdb>(plan);
      REQUIRE(deletes.size() == 1);
      CHECK(deletes[0]->name == "web-ballast");
      CHECK(find_note(plan, PdbNote::Reason::kOptedOut) != nullptr);
      apply(plan, input);
      CHECK(input.pdbs.empty());
      CHECK(plan_pdbs(policy, input).actions.empty());
    } else {
      CHECK(plan.actions.empty());
    }
  }
}

TEST_CASE("a policy change updates ballast's PDBs in place", "[guard]") {
  PdbPlannerInput input;
  input.deployments.push_back(workload({.name = "web", .replicas = 4}));
  input.stateful_sets.push_back(workload({.name = "db", .replicas = 3}));
  const auto before = policy::default_policy();
  plan_apply_and_converge(before, input);
  REQUIRE(input.pdbs.size() == 2);

  auto changed = policy::parse_policy(R"yaml(
tiers:
  standard: {pdb: {maxUnavailable: "25%"}}
  stateful: {pdb: {minAvailable: 1, minReplicas: 2}}
)yaml");
  REQUIRE(changed.ok());
  const PdbPlan plan = plan_pdbs(*changed, input);
  const auto updates = actions_of<UpdatePdb>(plan);
  REQUIRE(updates.size() == 2);
  CHECK(plan.actions.size() == 2);
  for (const auto* update : updates) {
    INFO(update->name);
    const json& spec = update->pdb["spec"];
    if (update->name == "web-ballast") {
      CHECK(spec["maxUnavailable"] == "25%");
      CHECK_FALSE(spec.contains("minAvailable"));
    } else {
      CHECK(update->name == "db-ballast");
      CHECK(spec["minAvailable"] == 1);
    }
    CHECK(spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow");
    CHECK_FALSE(update->resource_version.empty());
    CHECK(update->pdb["metadata"]["resourceVersion"] == update->resource_version);
    CHECK_FALSE(update->pdb.contains("status"));
  }
  apply(plan, input);
  CHECK(plan_pdbs(*changed, input).actions.empty());

  // A tier the new policy gives no PDB: ballast's PDB goes.
  auto no_pdb = policy::parse_policy(
      "tiers: {standard: {pdb: none}, stateful: {pdb: {minAvailable: 1, minReplicas: 2}}}");
  REQUIRE(no_pdb.ok());
  const PdbPlan removal = plan_pdbs(*no_pdb, input);
  REQUIRE(removal.actions.size() == 1);
  const auto* remove = std::get_if<DeletePdb>(&removal.actions[0]);
  REQUIRE(remove != nullptr);
  CHECK(remove->name == "web-ballast");
}

TEST_CASE("a replica or tier change re-tiers the PDB", "[guard]") {
  const auto policy = policy::default_policy();
  PdbPlannerInput input;
  input.deployments.push_back(workload({.replicas = 3}));
  plan_apply_and_converge(policy, input);
  struct Step {
    std::function<void(json&)> change;
    const char* field;
    json value;
    const char* tier;
  };
  const Step steps[] = {
      {[](json& w) { w["spec"]["replicas"] = 1; }, "maxUnavailable", 1, "standard"},
      {[](json& w) { w["spec"]["replicas"] = 2; }, "minAvailable", 1, "standard"},
      {[](json& w) { w["metadata"]["labels"]["ballast.dev/tier"] = "infra"; }, "maxUnavailable", 1, "infra"},
      {[](json& w) { w["spec"]["replicas"] = 5; }, "minAvailable", 2, "infra"},
  };
  for (const auto& step : steps) {
    step.change(input.deployments[0]);
    const PdbPlan plan = plan_pdbs(policy, input);
    REQUIRE(plan.actions.size() == 1);
    const auto* update = std::get_if<UpdatePdb>(&plan.actions[0]);
    REQUIRE(update != nullptr);
    CHECK(update->pdb["spec"][step.field] == step.value);
    CHECK(update->pdb["metadata"]["labels"]["ballast.dev/tier"] == step.tier);
    apply(plan, input);
    CHECK(plan_pdbs(policy, input).actions.empty());
  }
}

TEST_CASE("an update keeps what others added to ballast's PDB and fixes the owner", "[guard]") {
  const auto policy = policy::default_policy();
  PdbPlannerInput input;
  input.deployments.push_back(workload({}));
  apply(plan_pdbs(policy, input), input);
  json& ours = input.pdbs[0];
  ours["metadata"]["annotations"] = {{"note", "kept"}};
  ours["metadata"]["labels"]["team"] = "shop";
  ours["spec"]["minAvailable"] = 3;  // someone edited the spec
  const PdbPlan plan = plan_pdbs(policy, input);
  REQUIRE(plan.actions.size() == 1);
  const auto& update = std::get<UpdatePdb>(plan.actions[0]);
  CHECK(update.pdb["metadata"]["annotations"]["note"] == "kept");
  CHECK(update.pdb["metadata"]["labels"]["team"] == "shop");
  CHECK(update.pdb["spec"]["minAvailable"] == 1);
  apply(plan, input);

  // The workload was deleted and recreated under the same name: a new uid to own the PDB.
  input.deployments[0]["metadata"]["uid"] = "uid-new";
  const PdbPlan owner = plan_pdbs(policy, input);
  REQUIRE(owner.actions.size() == 1);
  const json& refs = std::get<UpdatePdb>(owner.actions[0]).pdb["metadata"]["ownerReferences"];
  REQUIRE(refs.size() == 1);
  CHECK(refs[0]["uid"] == "uid-new");
  apply(owner, input);
  CHECK(plan_pdbs(policy, input).actions.empty());
}

TEST_CASE("PDBs ballast does not own are never touched", "[guard]") {
  const auto policy = policy::default_policy();
  PdbPlannerInput input;
  // Labelled like ballast's but with no owner: a copied manifest, not ours.
  input.pdbs.push_back(user_pdb("shop", "orphan-ballast", {{"matchLabels", {{"app", "gone"}}}},
                                {{"app.kubernetes.io/managed-by", "ballast"}}));
  // Owned by a Deployment but made by Helm.
  json helm = user_pdb("shop", "helm-pdb", {{"matchLabels", {{"app", "gone"}}}},
                       {{"app.kubernetes.io/managed-by", "Helm"}});
  helm["metadata"]["ownerReferences"] = {{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "gone"},
                                          {"uid", "x"}, {"controller", true}}};
  input.pdbs.push_back(helm);
  input.pdbs.push_back(user_pdb("shop", "plain", {{"matchLabels", {{"app", "other"}}}}));
  const PdbPlan plan = plan_pdbs(policy, input);
  CHECK(plan.actions.empty());

  // A user PDB holding ballast's name (selecting other pods): ballast makes none.
  PdbPlannerInput taken;
  taken.deployments.push_back(workload({}));
  taken.pdbs.push_back(user_pdb("shop", "web-ballast", {{"matchLabels", {{"app", "other"}}}}));
  const PdbPlan taken_plan = plan_pdbs(policy, taken);
  CHECK(taken_plan.actions.empty());
  const PdbNote* note = find_note(taken_plan, PdbNote::Reason::kNameTaken);
  REQUIRE(note != nullptr);
  CHECK(note->other_pdb == "web-ballast");
}

TEST_CASE("ballast's PDB of a workload that is gone is deleted with preconditions", "[guard]") {
  const auto policy = policy::default_policy();
  PdbPlannerInput input;
  input.deployments.push_back(workload({}));
  input.deployments.push_back(workload({.name = "api"}));
  apply(plan_pdbs(policy, input), input);
  REQUIRE(input.pdbs.size() == 2);
  input.deployments.erase(input.deployments.begin());  // web
  const PdbPlan plan = plan_pdbs(policy, input);
  REQUIRE(plan.actions.size() == 1);
  const auto* remove = std::get_if<DeletePdb>(&plan.actions[0]);
  REQUIRE(remove != nullptr);
  CHECK(remove->ns == "shop");
  CHECK(remove->name == "web-ballast");
  CHECK(remove->uid.starts_with("pdb-uid-"));
  CHECK_FALSE(remove->resource_version.empty());
  apply(plan, input);
  CHECK(plan_pdbs(policy, input).actions.empty());
}

TEST_CASE("a workload being deleted, or in a namespace being deleted, gets no action", "[guard]") {
  const auto policy = policy::default_policy();
  for (const bool namespace_terminating : {false, true}) {
    INFO((namespace_terminating ? "namespace" : "workload") << " terminating");
    PdbPlannerInput input;
    input.namespaces.push_back(namespace_object("shop"));
    input.deployments.push_back(workload({.replicas = 3}));
    apply(plan_pdbs(policy, input), input);
    REQUIRE(input.pdbs.size() == 1);
    input.deployments[0]["spec"]["replicas"] = 1;  // would otherwise be an update
    if (namespace_terminating) {
      input.namespaces[0]["status"]["phase"] = "Terminating";
    } else {
      input.deployments[0]["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:00Z";
    }
    CHECK(plan_pdbs(policy, input).actions.empty());
    PdbPlannerInput fresh = input;
    fresh.pdbs.clear();
    CHECK(plan_pdbs(policy, fresh).actions.empty());
  }
}

TEST_CASE("a workload without a usable selector or uid gets a note and no PDB", "[guard]") {
  struct Row {
    std::function<void(json&)> change;
    PdbNote::Reason reason;
  };
  const Row rows[] = {
      {[](json& w) { w["spec"].erase("selector"); }, PdbNote::Reason::kNoSelector},
      {[](json& w) { w["spec"]["selector"] = json::object(); }, PdbNote::Reason::kNoSelector},
      {[](json& w) { w["spec"]["selector"] = {{"matchLabels", json::object()}}; }, PdbNote::Reason::kNoSelector},
      {[](json& w) { w["spec"]["selector"] = "app=web"; }, PdbNote::Reason::kNoSelector},
      {[](json& w) { w["metadata"].erase("uid"); }, PdbNote::Reason::kInvalidObject},
      {[](json& w) { w["metadata"]["name"] = 7; }, PdbNote::Reason::kInvalidObject},
  };
  for (const auto& row : rows) {
    PdbPlannerInput input;
    input.deployments.push_back(workload({}));
    row.change(input.deployments[0]);
    INFO(input.deployments[0].dump());
    const PdbPlan plan = plan_pdbs(policy::default_policy(), input);
    CHECK(plan.actions.empty());
    CHECK(find_note(plan, row.reason) != nullptr);
  }
}

TEST_CASE("objects of the wrong shape never make the planner throw", "[guard]") {
  PdbPlannerInput input;
  input.deployments = {json(), json::array(), json("x"), json{{"metadata", 1}}, json{{"spec", {{"replicas", "3"}}}}};
  input.stateful_sets = {json{{"metadata", {{"name", "db"}, {"namespace", "shop"}, {"uid", "u"}}}, {"spec", 1}}};
  input.pdbs = {json(), json{{"metadata", {{"name", "p"}, {"namespace", "shop"}}}, {"spec", {{"selector", 3}}}}};
  input.scaled_objects = {json(), json{{"metadata", {{"namespace", "shop"}}}, {"spec", {{"scaleTargetRef", 2}}}}};
  input.namespaces = {json(), json{{"metadata", {{"name", "shop"}, {"labels", {{"ballast.dev/tier", 4}}}}}}};
  PdbPlan plan;
  CHECK_NOTHROW(plan = plan_pdbs(policy::default_policy(), input));
  CHECK(plan.actions.empty());
}

TEST_CASE("a mixed cluster converges in one plan", "[guard]") {
  const auto policy = policy::default_policy();
  PdbPlannerInput input;
  input.namespaces = {namespace_object("shop"), namespace_object("databases"), namespace_object("ai-services"),
                      namespace_object("jobs")};
  input.deployments = {workload({.name = "web", .replicas = 3}), workload({.name = "api", .replicas = 1}),
                       workload({.name = "cart", .replicas = 2, .annotations = {{"ballast.dev/skip", "pdb"}}}),
                       workload({.ns = "ai-services", .name = "llm", .replicas = 0}),
                       workload({.ns = "jobs", .name = "etl", .replicas = 4, .labels = {{"ballast.dev/tier", "batch"}}}),
                       workload({.name = "search", .replicas = 4})};
  input.stateful_sets = {workload({.ns = "databases", .name = "pg", .replicas = 3})};
  input.scaled_objects = {scaled_object("ai-services", "llm", 0), scaled_object("shop", "search", 2)};
  input.pdbs = {user_pdb("shop", "api-user", {{"matchLabels", {{"app", "api"}}}})};
  const PdbPlan plan = plan_apply_and_converge(policy, input);
  std::map<std::string, std::string> budgets;
  for (const auto* create : actions_of<CreatePdb>(plan)) {
    const json& spec = create->pdb["spec"];
    budgets[create->pdb["metadata"]["name"]] =
        spec.contains("minAvailable") ? "min " + spec["minAvailable"].dump() : "max " + spec["maxUnavailable"].dump();
  }
  CHECK(budgets == std::map<std::string, std::string>{{"web-ballast", "min 1"},
                                                       {"llm-ballast", "max 1"},
                                                       {"search-ballast", "max \"50%\""},
                                                       {"pg-ballast", "min 2"}});
  CHECK(find_note(plan, PdbNote::Reason::kForeignPdbOverlap) != nullptr);
  CHECK(find_note(plan, PdbNote::Reason::kOptedOut) != nullptr);
  CHECK(find_note(plan, PdbNote::Reason::kTierHasNoPdb) != nullptr);
}

TEST_CASE("pdb_budget never returns a budget that blocks every eviction", "[guard]") {
  using Kind = policy::PdbRule::Kind;
  struct Row {
    policy::PdbRule rule;
    int replicas;
    const char* field;
    json value;
  };
  const Row rows[] = {
      {{Kind::kMinAvailable, "3", 0}, 3, "maxUnavailable", 1},
      {{Kind::kMinAvailable, "3", 0}, 4, "minAvailable", 3},
      {{Kind::kMinAvailable, "100%", 0}, 5, "maxUnavailable", 1},
      {{Kind::kMinAvailable, "50%", 0}, 2, "minAvailable", "50%"},
      {{Kind::kMinAvailable, "90%", 0}, 5, "maxUnavailable", 1},  // rounds up to 5
      {{Kind::kMaxUnavailable, "0", 0}, 5, "maxUnavailable", 1},
      {{Kind::kMaxUnavailable, "0%", 0}, 5, "maxUnavailable", 1},
      {{Kind::kMaxUnavailable, "25%", 0}, 5, "maxUnavailable", "25%"},
      {{Kind::kMaxUnavailable, "2", 0}, 5, "maxUnavailable", 2},
      {{Kind::kQuorum, "", 0}, 2, "maxUnavailable", 1},  // quorum of 2 is 2
      {{Kind::kQuorum, "", 0}, 4, "minAvailable", 3},
      {{Kind::kMinAvailable, "lots", 0}, 5, "maxUnavailable", 1},
  };
  for (const auto& row : rows) {
    INFO(row.rule.value << " at " << row.replicas);
    const auto budget = pdb_budget(row.rule, row.replicas, std::nullopt);
    REQUIRE(budget.has_value());
    CHECK(budget->field == row.field);
    CHECK(budget->value == row.value);
    CHECK_FALSE(budget->why.empty());
  }
  CHECK_FALSE(pdb_budget({Kind::kNone, "", 0}, 5, std::nullopt).has_value());
  CHECK_FALSE(pdb_budget({Kind::kNone, "", 0}, 5, 0).has_value());
}

TEST_CASE("a ScaledObject's minReplicaCount picks the tier's KEDA budget, clamped where it would block", "[guard]") {
  using Kind = policy::BudgetKind;
  const auto rule = [](policy::BudgetValue zero, policy::BudgetValue two) {
    policy::PdbRule out{Kind::kMinAvailable, "1", 2};
    out.scaled_to_zero = std::move(zero);
    out.keda_min_two_or_more = std::move(two);
    return out;
  };
  const policy::PdbRule built_in = policy::default_policy().find_tier("standard")->pdb;
  // A platform's table: Auth/Signaling minAvailable 1, Assessment minAvailable 50%.
  const policy::PdbRule auth = rule({Kind::kMinAvailable, "1"}, {Kind::kMinAvailable, "1"});
  const policy::PdbRule assessment = rule({Kind::kMaxUnavailable, "1"}, {Kind::kMinAvailable, "50%"});
  const policy::PdbRule blocking = rule({Kind::kMaxUnavailable, "0"}, {Kind::kMinAvailable, "100%"});
  struct Row {
    const char* name;
    const policy::PdbRule& rule;
    int replicas;
    int keda_min;
    const char* field;
    json value;
  };
  const Row rows[] = {
      {"built-in, min 0", built_in, 3, 0, "maxUnavailable", 1},
      {"built-in, min 2", built_in, 4, 2, "maxUnavailable", "50%"},
      {"built-in, min 1 follows the tier rule", built_in, 3, 1, "minAvailable", 1},
      {"auth, min 0 at 3 replicas", auth, 3, 0, "minAvailable", 1},
      {"auth, min 0 at 1 replica: clamped", auth, 1, 0, "maxUnavailable", 1},
      {"auth, min 0 scaled to zero: clamped", auth, 0, 0, "maxUnavailable", 1},
      {"auth, min 2", auth, 2, 2, "minAvailable", 1},
      {"assessment, min 2 at 2", assessment, 2, 2, "minAvailable", "50%"},
      {"assessment, min 3 at 6", assessment, 6, 3, "minAvailable", "50%"},
      {"assessment, min 0", assessment, 5, 0, "maxUnavailable", 1},
      {"min 2 counts KEDA's minimum when replicas lag it", auth, 0, 2, "minAvailable", 1},
      {"a zero maxUnavailable: clamped", blocking, 4, 0, "maxUnavailable", 1},
      {"minAvailable 100%: clamped", blocking, 4, 2, "maxUnavailable", 1},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    const auto budget = pdb_budget(row.rule, row.replicas, row.keda_min);
    REQUIRE(budget.has_value());
    CHECK(budget->field == row.field);
    CHECK(budget->value == row.value);
    CHECK_THAT(budget->why, Catch::Contains("ScaledObject") || Catch::Contains("tier rule"));
  }
}

namespace {

json cnpg_pod(const std::string& cluster, int index, const std::string& phase = "Running") {
  return {{"metadata",
           {{"namespace", "databases"},
            {"name", cluster + "-" + std::to_string(index)},
            {"labels", {{"cnpg.io/cluster", cluster}, {"cnpg.io/instanceRole", index == 1 ? "primary" : "replica"}}},
            {"ownerReferences", json::array({{{"apiVersion", "postgresql.cnpg.io/v1"}, {"kind", "Cluster"},
                                               {"name", cluster}, {"uid", "cnpg-uid"}, {"controller", true}}})}}},
          {"status", {{"phase", phase}}}};
}

policy::TierPolicy policy_with_targets(const char* budget) {
  auto policy = policy::parse_policy(std::string(R"yaml(
pdbTargets:
  - name: pg-main
    namespace: databases
    matchLabels: {cnpg.io/cluster: pg-main}
    pdb: )yaml") + budget + "\n");
  REQUIRE(policy.ok());
  return *policy;
}

}  // namespace

TEST_CASE("pods no workload owns get the budget the policy's pdbTargets name, from their count", "[guard]") {
  struct Row {
    const char* budget;
    int running;
    int finished;  // Succeeded pods: not counted
    const char* expected;
  };
  const Row rows[] = {
      // Always an integer minAvailable: the disruption controller cannot scale a percentage or
      // a maxUnavailable for pods without a scalable controller.
      {"{minAvailable: quorum}", 3, 0, "minAvailable=2"},
      {"{minAvailable: quorum}", 5, 1, "minAvailable=3"},
      {"{minAvailable: 1}", 3, 0, "minAvailable=1"},
      {"{minAvailable: 1}", 1, 2, "minAvailable=0"},  // would block every eviction: maxUnavailable 1 of 1
      {"{minAvailable: \"50%\"}", 3, 0, "minAvailable=2"},
      {"{maxUnavailable: \"50%\"}", 3, 0, "minAvailable=1"},
      {"{maxUnavailable: 2}", 5, 0, "minAvailable=3"},
      {"{maxUnavailable: 0}", 3, 0, "minAvailable=2"},  // clamped to maxUnavailable 1
      {"{minAvailable: 1}", 0, 0, "minAvailable=0"},   // not running yet
  };
  for (const auto& row : rows) {
    INFO(row.budget << " over " << row.running << " pods");
    const policy::TierPolicy policy = policy_with_targets(row.budget);
    PdbPlannerInput input;
    auto& pods = input.target_pods["databases/pg-main"];
    for (int i = 1; i <= row.running; ++i) pods.push_back(cnpg_pod("pg-main", i));
    for (int i = 1; i <= row.finished; ++i) pods.push_back(cnpg_pod("pg-main", 100 + i, "Succeeded"));
    const PdbPlan plan = plan_pdbs(policy, input);
    CHECK(created_budget(plan) == row.expected);
    const auto creates = actions_of<CreatePdb>(plan);
    REQUIRE(creates.size() == 1);
    const json& pdb = creates[0]->pdb;
    CHECK(pdb["metadata"]["name"] == "pg-main-ballast");
    CHECK(pdb["metadata"]["namespace"] == "databases");
    CHECK(pdb["metadata"]["labels"][kPdbTargetLabel] == "pg-main");
    CHECK(pdb["metadata"]["labels"][kManagedByLabel] == kManagedByValue);
    CHECK_FALSE(pdb["metadata"].contains("ownerReferences"));
    CHECK(pdb["spec"]["selector"] == json{{"matchLabels", {{"cnpg.io/cluster", "pg-main"}}}});
    CHECK(pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow");

    apply(plan, input);
    CHECK(plan_pdbs(policy, input).actions.empty());  // steady state
  }
}

TEST_CASE("a pdbTargets PDB follows its pods, yields to foreign PDBs and goes with its entry", "[guard]") {
  const policy::TierPolicy policy = policy_with_targets("{minAvailable: quorum}");
  PdbPlannerInput input;
  auto& pods = input.target_pods["databases/pg-main"];
  for (int i = 1; i <= 3; ++i) pods.push_back(cnpg_pod("pg-main", i));
  apply(plan_pdbs(policy, input), input);

  // A fifth instance: quorum moves to 3.
  pods.push_back(cnpg_pod("pg-main", 4));
  pods.push_back(cnpg_pod("pg-main", 5));
  PdbPlan plan = plan_pdbs(policy, input);
  const auto updates = actions_of<UpdatePdb>(plan);
  REQUIRE(updates.size() == 1);
  CHECK(updates[0]->pdb["spec"]["minAvailable"] == 3);
  apply(plan, input);

  // CNPG's own PDB (enablePDB) over the same pods: two PDBs would fail every eviction.
  input.pdbs.push_back(user_pdb("databases", "pg-main-primary", {{"matchLabels", {{"cnpg.io/cluster", "pg-main"},
                                                                               {"cnpg.io/instanceRole", "primary"}}}}));
  plan = plan_pdbs(policy, input);
  REQUIRE(actions_of<DeletePdb>(plan).size() == 1);
  const PdbNote* overlap = find_note(plan, PdbNote::Reason::kForeignPdbOverlap);
  REQUIRE(overlap != nullptr);
  CHECK(overlap->other_pdb == "pg-main-primary");
  CHECK(overlap->kind == "PodDisruptionBudget");
  apply(plan, input);
  input.pdbs.clear();

  // A user PDB of the same name is never taken over.
  input.pdbs.push_back(user_pdb("databases", "pg-main-ballast", {{"matchLabels", {{"app", "other"}}}}));
  plan = plan_pdbs(policy, input);
  CHECK(plan.actions.empty());
  CHECK(find_note(plan, PdbNote::Reason::kNameTaken) != nullptr);
  input.pdbs.clear();

  // The entry leaves the policy: its PDB goes.
  apply(plan_pdbs(policy, input), input);
  REQUIRE(input.pdbs.size() == 1);
  plan = plan_pdbs(policy::default_policy(), input);
  REQUIRE(actions_of<DeletePdb>(plan).size() == 1);
  CHECK_THAT(actions_of<DeletePdb>(plan)[0]->reason, Catch::Contains("pdbTargets"));
}
