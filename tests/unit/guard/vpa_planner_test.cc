#include "guard/vpa_planner.h"

#include <string>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "guard/pdb_planner.h"

using namespace ballast;
using namespace ballast::guard;
using json = nlohmann::json;

namespace {

policy::TierPolicy vpa_policy() {
  auto policy = policy::parse_policy(R"yaml(
tiers:
  standard:
    vpa: {updateMode: Auto, minAllowed: {cpu: 25m, memory: 32Mi}, maxAllowed: {cpu: "1", memory: 1Gi}}
)yaml");
  REQUIRE(policy.ok());
  return *policy;
}

json workload(const std::string& name, json annotations = json::object()) {
  return {{"metadata", {{"namespace", "shop"}, {"name", name}, {"uid", "uid-" + name}, {"annotations", annotations}}},
          {"spec", {{"selector", {{"matchLabels", {{"app", name}}}}},
                    {"template", {{"metadata", {{"labels", {{"app", name}}}}}}}}}};
}

// The VPA the planner creates, as the apiserver returns it.
json stored(const json& vpa) {
  json out = vpa;
  out["metadata"]["uid"] = "vpa-uid";
  out["metadata"]["resourceVersion"] = "7";
  return out;
}

json foreign_vpa(const std::string& name, const std::string& target) {
  return {{"metadata", {{"namespace", "shop"}, {"name", name}, {"uid", "u-" + name}}},
          {"spec", {{"targetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", target}}}}}};
}

json hpa(const std::string& target, json metrics) {
  json out = {{"metadata", {{"namespace", "shop"}, {"name", target + "-hpa"}}},
              {"spec", {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", target}}}}}};
  if (!metrics.is_null()) out["spec"]["metrics"] = std::move(metrics);
  return out;
}

json scaled_object(const std::string& target, const std::string& trigger_type) {
  return {{"metadata", {{"namespace", "shop"}, {"name", target + "-so"}}},
          {"spec", {{"scaleTargetRef", {{"name", target}}}, {"triggers", json::array({{{"type", trigger_type}}})}}}};
}

template <typename Action>
std::vector<Action> of(const VpaPlan& plan) {
  std::vector<Action> out;
  for (const auto& action : plan.actions) {
    if (const auto* step = std::get_if<Action>(&action)) out.push_back(*step);
  }
  return out;
}

}  // namespace

TEST_CASE("a workload of a tier with a vpa block gets one VPA owned by it", "[guard][vpa]") {
  VpaPlannerInput input;
  input.deployments = {workload("web")};
  const VpaPlan plan = plan_vpas(vpa_policy(), input);
  const auto creates = of<CreateVpa>(plan);
  REQUIRE(creates.size() == 1);
  const json& vpa = creates[0].vpa;
  CHECK(vpa["apiVersion"] == "autoscaling.k8s.io/v1");
  CHECK(vpa["metadata"]["name"] == "web-ballast");
  CHECK(vpa["metadata"]["labels"][kManagedByLabel] == kManagedByValue);
  CHECK(vpa["metadata"]["ownerReferences"][0]["uid"] == "uid-web");
  CHECK(vpa["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(vpa["spec"]["targetRef"] == json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", "web"}});
  CHECK(vpa["spec"]["updatePolicy"]["updateMode"] == "Auto");
  const json& container = vpa["spec"]["resourcePolicy"]["containerPolicies"][0];
  CHECK(container["containerName"] == "*");
  CHECK(container["minAllowed"] == json{{"cpu", "25m"}, {"memory", "32Mi"}});
  CHECK(container["maxAllowed"] == json{{"cpu", "1"}, {"memory", "1Gi"}});
  CHECK(container["controlledResources"] == json::array({"cpu", "memory"}));

  // Converged: planning over the created object changes nothing.
  input.vpas = {stored(vpa)};
  CHECK(plan_vpas(vpa_policy(), input).actions.empty());
}

TEST_CASE("no VPA where the workload opts out, is resource-scaled or has another VPA", "[guard][vpa]") {
  struct Case {
    std::string name;
    json annotations = json::object();
    std::vector<json> hpas;
    std::vector<json> scaled_objects;
    std::vector<json> vpas;
    VpaNote::Reason reason;
  };
  const std::vector<Case> cases = {
      {"skip lists vpa", {{"ballast.dev/skip", "pdb, vpa"}}, {}, {}, {}, VpaNote::Reason::kOptedOut},
      {"defaults off", {{"ballast.dev/defaults", "Off"}}, {}, {}, {}, VpaNote::Reason::kOptedOut},
      {"HPA on cpu", {}, {hpa("web", json::array({{{"type", "Resource"}, {"resource", {{"name", "cpu"}}}}}))}, {}, {},
       VpaNote::Reason::kResourceScaled},
      {"HPA on container memory", {},
       {hpa("web", json::array({{{"type", "ContainerResource"}, {"containerResource", {{"name", "memory"}}}}}))}, {},
       {}, VpaNote::Reason::kResourceScaled},
      {"HPA without metrics (cpu by default)", {}, {hpa("web", nullptr)}, {}, {}, VpaNote::Reason::kResourceScaled},
      {"ScaledObject with a cpu trigger", {}, {}, {scaled_object("web", "cpu")}, {}, VpaNote::Reason::kResourceScaled},
      {"ScaledObject with a memory trigger", {}, {}, {scaled_object("web", "memory")}, {},
       VpaNote::Reason::kResourceScaled},
      {"a foreign VPA targets it", {}, {}, {}, {foreign_vpa("mine", "web")}, VpaNote::Reason::kForeignVpa},
      {"its VPA name is taken", {}, {}, {}, {foreign_vpa("web-ballast", "other")}, VpaNote::Reason::kNameTaken},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    VpaPlannerInput input;
    input.deployments = {workload("web", c.annotations)};
    input.hpas = c.hpas;
    input.scaled_objects = c.scaled_objects;
    input.vpas = c.vpas;
    const VpaPlan plan = plan_vpas(vpa_policy(), input);
    CHECK(plan.actions.empty());
    REQUIRE(plan.notes.size() == 1);
    CHECK(plan.notes[0].reason == c.reason);
    CHECK(plan.notes[0].name == "web");
  }
}

TEST_CASE("a VPA is kept where the autoscaler scales on something else", "[guard][vpa]") {
  VpaPlannerInput input;
  input.deployments = {workload("web")};
  input.scaled_objects = {scaled_object("web", "kafka"), scaled_object("other", "cpu")};
  input.hpas = {hpa("web", json::array({{{"type", "External"}, {"external", {{"metric", {{"name", "lag"}}}}}}}))};
  CHECK(of<CreateVpa>(plan_vpas(vpa_policy(), input)).size() == 1);
}

TEST_CASE("ballast's VPA is deleted once it is no longer wanted, and updated when the tier changes", "[guard][vpa]") {
  VpaPlannerInput input;
  input.deployments = {workload("web")};
  const json ours = stored(of<CreateVpa>(plan_vpas(vpa_policy(), input))[0].vpa);
  input.vpas = {ours};

  SECTION("a cpu trigger appears") {
    input.scaled_objects = {scaled_object("web", "cpu")};
    const auto deletes = of<DeleteVpa>(plan_vpas(vpa_policy(), input));
    REQUIRE(deletes.size() == 1);
    CHECK(deletes[0].name == "web-ballast");
    CHECK(deletes[0].uid == "vpa-uid");
    CHECK(deletes[0].resource_version == "7");
  }
  SECTION("the workload opts out") {
    input.deployments = {workload("web", {{"ballast.dev/skip", "vpa"}})};
    CHECK(of<DeleteVpa>(plan_vpas(vpa_policy(), input)).size() == 1);
  }
  SECTION("the tier loses its vpa block") {
    CHECK(of<DeleteVpa>(plan_vpas(policy::default_policy(), input)).size() == 1);
  }
  SECTION("the workload is being deleted: left to garbage collection") {
    input.deployments[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
    CHECK(plan_vpas(vpa_policy(), input).actions.empty());
  }
  SECTION("the tier's bounds change: an update keeping fields ballast does not own") {
    input.vpas[0]["spec"]["recommenders"] = json::array({{{"name", "custom"}}});
    input.vpas[0]["metadata"]["labels"]["team"] = "shop";
    auto policy = policy::parse_policy("tiers: {standard: {vpa: {updateMode: Initial}}}");
    REQUIRE(policy.ok());
    const auto updates = of<UpdateVpa>(plan_vpas(*policy, input));
    REQUIRE(updates.size() == 1);
    CHECK(updates[0].resource_version == "7");
    CHECK(updates[0].vpa["spec"]["updatePolicy"]["updateMode"] == "Initial");
    CHECK(updates[0].vpa["spec"]["recommenders"][0]["name"] == "custom");
    CHECK(updates[0].vpa["metadata"]["labels"]["team"] == "shop");
    CHECK_FALSE(updates[0].vpa["spec"]["resourcePolicy"]["containerPolicies"][0].contains("minAllowed"));
  }
  SECTION("a foreign VPA (label alone, no owner) is never deleted") {
    json copied = foreign_vpa("web-copy", "api");
    copied["metadata"]["labels"][kManagedByLabel] = kManagedByValue;
    input.vpas.push_back(copied);
    CHECK(plan_vpas(vpa_policy(), input).actions.empty());
  }
}

TEST_CASE("StatefulSets get a VPA targeting the StatefulSet", "[guard][vpa]") {
  VpaPlannerInput input;
  input.stateful_sets = {workload("db")};
  auto policy = policy::parse_policy("tiers: {stateful: {vpa: {updateMode: \"Off\"}}}");
  REQUIRE(policy.ok());
  const auto creates = of<CreateVpa>(plan_vpas(*policy, input));
  REQUIRE(creates.size() == 1);
  CHECK(creates[0].vpa["spec"]["targetRef"]["kind"] == "StatefulSet");
  CHECK(creates[0].vpa["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet");
  CHECK(creates[0].vpa["spec"]["updatePolicy"]["updateMode"] == "Off");
}
