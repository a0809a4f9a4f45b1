#include "guard/priority_class_planner.h"

#include <catch2/catch.hpp>

using namespace ballast;
using namespace ballast::guard;
using json = nlohmann::json;

namespace {

json existing_class(const std::string& name, json value, bool global_default = false) {
  return {{"metadata", {{"name", name}, {"uid", "uid-" + name}}}, {"value", std::move(value)},
          {"globalDefault", global_default}};
}

}  // namespace

TEST_CASE("the policy's PriorityClasses are created when missing", "[guard]") {
  const PriorityClassPlan plan = plan_priority_classes(policy::default_policy(), {});
  CHECK(plan.conflicts.empty());
  REQUIRE(plan.creates.size() == 4);
  struct Row {
    const char* name;
    int value;
    bool global_default;
    const char* preemption;  // nullptr = absent
  };
  const Row rows[] = {
      {"batch-low", 1000, false, "Never"},
      {"platform-critical", 100000, false, nullptr},
      {"platform-infra-critical", 1000000, false, nullptr},
      {"platform-normal", 10000, true, nullptr},
  };
  for (size_t i = 0; i < std::size(rows); ++i) {
    const json& object = plan.creates[i].priority_class;
    INFO(object.dump());
    CHECK(object["apiVersion"] == "scheduling.k8s.io/v1");
    CHECK(object["kind"] == "PriorityClass");
    CHECK(object["metadata"]["name"] == rows[i].name);
    CHECK(object["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ballast");
    CHECK(object["value"] == rows[i].value);
    CHECK(object["globalDefault"] == rows[i].global_default);
    CHECK_FALSE(object["description"].get<std::string>().empty());
    CHECK(object.contains("preemptionPolicy") == (rows[i].preemption != nullptr));
    if (rows[i].preemption != nullptr) CHECK(object["preemptionPolicy"] == rows[i].preemption);
    CHECK(plan.creates[i].note.empty());
  }
}

TEST_CASE("PriorityClasses that exist with the policy's value are left alone", "[guard]") {
  std::vector<json> existing;
  for (const auto& create : plan_priority_classes(policy::default_policy(), {}).creates) {
    json object = create.priority_class;
    object["metadata"]["uid"] = "u";
    object["description"] = "changed by hand";  // not ballast's to correct
    object["globalDefault"] = false;
    existing.push_back(object);
  }
  const PriorityClassPlan plan = plan_priority_classes(policy::default_policy(), existing);
  CHECK(plan.creates.empty());
  CHECK(plan.conflicts.empty());
}

TEST_CASE("a PriorityClass with another value is reported, never changed", "[guard]") {
  struct Row {
    json value;
    std::optional<int64_t> have;
  };
  const Row rows[] = {{50000, 50000}, {"100000", std::nullopt}, {nullptr, std::nullopt}};
  for (const auto& row : rows) {
    INFO(row.value.dump());
    const PriorityClassPlan plan = plan_priority_classes(policy::default_policy(),
                                                         {existing_class("platform-critical", row.value)});
    REQUIRE(plan.conflicts.size() == 1);
    const auto& conflict = plan.conflicts[0];
    CHECK(conflict.name == "platform-critical");
    CHECK(conflict.want_value == 100000);
    CHECK(conflict.have_value == row.have);
    CHECK_THAT(conflict.message, Catch::Contains("platform-critical"));
    CHECK(plan.creates.size() == 3);
    for (const auto& create : plan.creates) CHECK(create.priority_class["metadata"]["name"] != "platform-critical");
  }
}

TEST_CASE("the default class is created without globalDefault when another class is the default", "[guard]") {
  const PriorityClassPlan plan =
      plan_priority_classes(policy::default_policy(), {existing_class("company-default", 500, true)});
  REQUIRE(plan.creates.size() == 4);
  bool seen = false;
  for (const auto& create : plan.creates) {
    if (create.priority_class["metadata"]["name"] != "platform-normal") continue;
    seen = true;
    CHECK(create.priority_class["globalDefault"] == false);
    CHECK_THAT(create.note, Catch::Contains("company-default"));
  }
  CHECK(seen);
}

TEST_CASE("a policy's own priorityClasses are what the guard creates", "[guard]") {
  auto policy = policy::parse_policy(R"yaml(
tiers:
  standard: {priorityClassName: gold}
  critical: {priorityClassName: gold}
  stateful: {priorityClassName: gold}
  infra: {priorityClassName: system-cluster-critical}
  scale-to-zero: {priorityClassName: gold}
  batch: {priorityClassName: ""}
priorityClasses:
  gold: {value: 7000, globalDefault: true, description: shiny}
)yaml");
  REQUIRE(policy.ok());
  const PriorityClassPlan plan = plan_priority_classes(*policy, {existing_class("system-cluster-critical", 2000000000)});
  CHECK(plan.conflicts.empty());
  REQUIRE(plan.creates.size() == 1);
  CHECK(plan.creates[0].priority_class["metadata"]["name"] == "gold");
  CHECK(plan.creates[0].priority_class["value"] == 7000);
  CHECK(plan.creates[0].priority_class["globalDefault"] == true);
  CHECK(plan.creates[0].priority_class["description"] == "shiny");
}
