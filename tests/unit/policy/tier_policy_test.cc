#include "policy/tier_policy.h"

#include <cstdio>
#include <fstream>

#include <catch2/catch.hpp>

#include "kube/model/quantity.h"

using namespace ballast;
using namespace ballast::policy;

TEST_CASE("the built-in policy is CONTRACT.md's tier table", "[policy]") {
  struct Row {
    const char* tier;
    const char* priority_class;
    const char* when_unsatisfiable;  // nullptr = no spread
    bool honor_taints;
    bool anti_affinity;
    PdbRule::Kind pdb;
    const char* pdb_value;
  };
  using Kind = PdbRule::Kind;
  const Row rows[] = {
      {"infra", "platform-infra-critical", "DoNotSchedule", true, true, Kind::kMinAvailable, "2"},
      {"critical", "platform-critical", "ScheduleAnyway", false, false, Kind::kMinAvailable, "1"},
      {"standard", "platform-normal", "ScheduleAnyway", false, false, Kind::kMinAvailable, "1"},
      {"stateful", "platform-critical", "DoNotSchedule", true, true, Kind::kQuorum, ""},
      {"scale-to-zero", "platform-normal", "ScheduleAnyway", false, false, Kind::kMaxUnavailable, "1"},
      {"batch", "batch-low", nullptr, false, false, Kind::kNone, ""},
  };
  const TierPolicy policy = default_policy();
  CHECK(policy.tiers.size() == std::size(rows));
  for (const auto& row : rows) {
    INFO(row.tier);
    const Tier* tier = policy.find_tier(row.tier);
    REQUIRE(tier != nullptr);
    CHECK(tier->priority_class == row.priority_class);
    CHECK(tier->spread.has_value() == (row.when_unsatisfiable != nullptr));
    if (tier->spread) {
      CHECK(tier->spread->max_skew == 1);
      CHECK(tier->spread->when_unsatisfiable == row.when_unsatisfiable);
      CHECK(tier->spread->honor_taints == row.honor_taints);
    }
    CHECK(tier->anti_affinity == row.anti_affinity);
    CHECK(tier->pdb.kind == row.pdb);
    CHECK(tier->pdb.value == row.pdb_value);
    CHECK(ballast::kube::is_valid_quantity(tier->requests.cpu));
    CHECK(ballast::kube::is_valid_quantity(tier->requests.memory));
  }
  CHECK(*policy.namespace_tier("ai-services") == "scale-to-zero");
  CHECK(*policy.namespace_tier("databases") == "stateful");
  CHECK(*policy.namespace_tier("istio-system") == "infra");
  CHECK(*policy.namespace_tier("monitoring") == "infra");
  CHECK(policy.namespace_tier("shop") == nullptr);
  CHECK(policy.default_tier == "standard");
  CHECK(policy.statefulset_tier == "stateful");
}

TEST_CASE("restricted priority classes are usable only in privileged namespaces", "[policy]") {
  const TierPolicy policy = default_policy();
  struct Row {
    const char* ns;
    const char* priority_class;
    bool allowed;
  };
  const Row rows[] = {
      {"shop", "platform-normal", true},
      {"shop", "platform-critical", true},
      {"shop", "platform-infra-critical", false},
      {"shop", "system-cluster-critical", false},
      {"shop", "system-node-critical", false},
      {"monitoring", "platform-infra-critical", true},
      {"kube-system", "system-node-critical", true},
      {"ballast-system", "system-cluster-critical", true},
  };
  for (const auto& row : rows) {
    INFO(row.ns << " " << row.priority_class);
    CHECK(policy.may_use_priority_class(row.ns, row.priority_class) == row.allowed);
  }
}

TEST_CASE("a policy file changes single fields of built-in tiers and adds new ones", "[policy]") {
  auto policy = parse_policy(R"yaml(
tiers:
  standard:
    requests: {cpu: 20m}
  edge:
    priorityClassName: platform-critical
    spread: {maxSkew: 2, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor}
    antiAffinity: required
    pdb: {maxUnavailable: "25%"}
    requests: {cpu: 200m, memory: 1Gi}
  batch:
    spread: {}
namespaces:
  edge-*: edge
  edge-special: batch
  databases: stateful
defaultTier: standard
privilegedNamespaces: [kube-system, platform]
restrictedPriorityClasses: [platform-infra-critical, platform-critical]
scalerAddresses: [ballast.ops.svc:9090]
)yaml");
  REQUIRE(policy.ok());
  const Tier& standard = *policy->find_tier("standard");
  CHECK(standard.requests.cpu == "20m");
  CHECK(standard.requests.memory == "64Mi");  // kept from the built-in tier
  CHECK(standard.priority_class == "platform-normal");
  const Tier& edge = *policy->find_tier("edge");
  CHECK(edge.spread->max_skew == 2);
  CHECK(edge.spread->honor_taints);
  CHECK(edge.anti_affinity);
  CHECK(edge.pdb.kind == PdbRule::Kind::kMaxUnavailable);
  CHECK(edge.pdb.value == "25%");
  CHECK(policy->find_tier("batch")->spread->when_unsatisfiable == "ScheduleAnyway");
  CHECK(*policy->namespace_tier("edge-eu") == "edge");
  CHECK(*policy->namespace_tier("edge-special") == "batch");  // exact beats pattern
  CHECK(policy->namespace_tier("ai-services") == nullptr);     // the map is replaced whole
  CHECK_FALSE(policy->may_use_priority_class("shop", "platform-critical"));
  CHECK(policy->may_use_priority_class("platform", "platform-critical"));
  CHECK(policy->scaler_addresses == std::set<std::string>{"ballast.ops.svc:9090"});
}

TEST_CASE("an empty policy document is the built-in policy", "[policy]") {
  auto policy = parse_policy("");
  REQUIRE(policy.ok());
  CHECK(policy->tiers.size() == default_policy().tiers.size());
}

TEST_CASE("a bad policy names what is wrong", "[policy]") {
  struct Row {
    const char* yaml;
    const char* expected;
  };
  const Row rows[] = {
      {"tier: {}", "unknown key \"tier\""},
      {"tiers: {standard: {requests: {cpu: lots}}}", "tiers.standard.requests.cpu"},
      {"tiers: {standard: {spread: {whenUnsatisfiable: Sometimes}}}", "whenUnsatisfiable"},
      {"tiers: {standard: {spread: {maxSkew: 0}}}", "maxSkew"},
      {"tiers: {standard: {antiAffinity: preferred}}", "antiAffinity"},
      {"tiers: {standard: {pdb: {minAvailable: 1, maxUnavailable: 1}}}", "not both"},
      {"tiers: {standard: {pdb: {minAvailable: half}}}", "tiers.standard.pdb"},
      {"tiers: {standard: {priorityClassName: Platform_Normal}}", "priorityClassName"},
      {"tiers: {standard: {colour: blue}}", "unknown key \"colour\""},
      {"namespaces: {shop: gold}", "unknown tier \"gold\""},
      {"defaultTier: gold", "defaultTier"},
      {"privilegedNamespaces: kube-system", "expected a list"},
      {"tiers: [", "policy"},
      {"tiers: {standard: {antiAffinity: true}, standard: {antiAffinity: false}}", "duplicate key \"standard\""},
      {"defaultTier: standard\ndefaultTier: critical\n", "duplicate key \"defaultTier\" (line 2)"},
  };
  for (const auto& row : rows) {
    INFO(row.yaml);
    auto policy = parse_policy(row.yaml);
    REQUIRE_FALSE(policy.ok());
    CHECK(policy.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(policy.error().message, Catch::Contains(row.expected));
  }
}

TEST_CASE("load_policy reads a file and names it in errors", "[policy]") {
  char path[] = "/tmp/ballast-policy-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  {
    std::ofstream out(path);
    out << "defaultTier: critical\n";
  }
  auto policy = load_policy(path);
  REQUIRE(policy.ok());
  CHECK(policy->default_tier == "critical");
  {
    std::ofstream out(path);
    out << "defaultTier: gold\n";
  }
  auto bad = load_policy(path);
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::StartsWith(path));
  std::remove(path);
  auto missing = load_policy(path);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kIo);
}

TEST_CASE("the built-in policy defines CONTRACT.md's PriorityClasses", "[policy]") {
  const TierPolicy policy = default_policy();
  struct Row {
    const char* name;
    int value;
    bool global_default;
  };
  const Row rows[] = {
      {"platform-infra-critical", 1000000, false},
      {"platform-critical", 100000, false},
      {"platform-normal", 10000, true},
      {"batch-low", 1000, false},
  };
  CHECK(policy.priority_classes.size() == std::size(rows));
  for (const auto& row : rows) {
    INFO(row.name);
    const auto it = policy.priority_classes.find(row.name);
    REQUIRE(it != policy.priority_classes.end());
    CHECK(it->second.value == row.value);
    CHECK(it->second.global_default == row.global_default);
    CHECK_FALSE(it->second.description.empty());
  }
  CHECK(policy.priority_classes.at("batch-low").preemption_policy == "Never");
  for (const auto& [name, tier] : policy.tiers) {
    INFO(name);
    CHECK(policy.priority_classes.count(tier.priority_class) == 1);
  }
}

TEST_CASE("a policy file's priorityClasses replace the built-in ones", "[policy]") {
  auto policy = parse_policy(R"yaml(
tiers:
  batch: {priorityClassName: platform-normal}
  infra: {priorityClassName: system-cluster-critical}
priorityClasses:
  platform-critical: {value: 200000, description: "user-facing"}
  platform-normal: {value: 10000, globalDefault: true}
  spare: {value: -5, preemptionPolicy: Never}
)yaml");
  REQUIRE(policy.ok());
  CHECK(policy->priority_classes.size() == 3);
  CHECK(policy->priority_classes.count("batch-low") == 0);
  CHECK(policy->priority_classes.at("platform-critical").value == 200000);
  CHECK(policy->priority_classes.at("platform-critical").description == "user-facing");
  CHECK_FALSE(policy->priority_classes.at("platform-critical").global_default);
  CHECK(policy->priority_classes.at("platform-normal").global_default);
  CHECK(policy->priority_classes.at("spare").value == -5);
  CHECK(policy->priority_classes.at("spare").preemption_policy == "Never");
}

TEST_CASE("a bad priorityClasses section names what is wrong", "[policy]") {
  struct Row {
    const char* yaml;
    const char* expected;
  };
  const Row rows[] = {
      {"priorityClasses: [a]", "priorityClasses: expected a mapping"},
      {"priorityClasses: {platform-normal: {value: 1000000001}}", "priorityClasses.platform-normal.value"},
      {"priorityClasses: {platform-normal: {value: 10k}}", "priorityClasses.platform-normal.value"},
      {"priorityClasses: {platform-normal: {value: 99999999999}}", "priorityClasses.platform-normal.value"},
      {"priorityClasses: {platform-normal: {globalDefault: true}}", "needs value"},
      {"priorityClasses: {platform-normal: {value: 1, colour: red}}", "unknown key \"colour\""},
      {"priorityClasses: {platform-normal: {value: 1, globalDefault: yes please}}", "globalDefault"},
      {"priorityClasses: {platform-normal: {value: 1, preemptionPolicy: Sometimes}}", "preemptionPolicy"},
      {"priorityClasses: {system-custom: {value: 1}}", "system- prefix is reserved"},
      {"priorityClasses: {Platform_Normal: {value: 1}}", "not a valid object name"},
      {"priorityClasses: {platform-infra-critical: {value: 3, globalDefault: true}, platform-critical: {value: 2}, "
       "platform-normal: {value: 1, globalDefault: true}, batch-low: {value: 0}}",
       "both globalDefault"},
      {"priorityClasses: {platform-infra-critical: {value: 3}, platform-critical: {value: 2}, "
       "platform-normal: {value: 1}}",
       "tiers.batch.priorityClassName: \"batch-low\" is not defined in priorityClasses"},
      {"tiers: {edge: {priorityClassName: gold}}", "tiers.edge.priorityClassName: \"gold\" is not defined"},
  };
  for (const auto& row : rows) {
    INFO(row.yaml);
    auto policy = parse_policy(row.yaml);
    REQUIRE_FALSE(policy.ok());
    CHECK(policy.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(policy.error().message, Catch::Contains(row.expected));
  }
}
