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
    CHECK(tier->spread.size() == (row.when_unsatisfiable != nullptr ? 1u : 0u));
    if (!tier->spread.empty()) {
      CHECK(tier->spread[0].max_skew == 1);
      CHECK(tier->spread[0].when_unsatisfiable == row.when_unsatisfiable);
      CHECK(tier->spread[0].honor_taints == row.honor_taints);
      CHECK(tier->spread[0].topology_key == kHostnameTopologyKey);
    }
    CHECK(tier->anti_affinity.size() == (row.anti_affinity ? 1u : 0u));
    for (const auto& rule : tier->anti_affinity) {
      CHECK(rule.required);
      CHECK(rule.topology_key == kHostnameTopologyKey);
    }
    // KEDA-scaled workloads: CONTRACT.md's maxUnavailable 1 at minReplicaCount 0, 50% at 2+.
    if (row.pdb != Kind::kNone) {
      CHECK(tier->pdb.scaled_to_zero.kind == Kind::kMaxUnavailable);
      CHECK(tier->pdb.scaled_to_zero.value == "1");
      CHECK(tier->pdb.keda_min_two_or_more.kind == Kind::kMaxUnavailable);
      CHECK(tier->pdb.keda_min_two_or_more.value == "50%");
    }
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
  REQUIRE(edge.spread.size() == 1);
  CHECK(edge.spread[0].max_skew == 2);
  CHECK(edge.spread[0].honor_taints);
  REQUIRE(edge.anti_affinity.size() == 1);
  CHECK(edge.anti_affinity[0].required);
  CHECK(edge.pdb.kind == PdbRule::Kind::kMaxUnavailable);
  CHECK(edge.pdb.value == "25%");
  REQUIRE(policy->find_tier("batch")->spread.size() == 1);
  CHECK(policy->find_tier("batch")->spread[0].when_unsatisfiable == "ScheduleAnyway");
  CHECK(*policy->namespace_tier("edge-eu") == "edge");
  CHECK(*policy->namespace_tier("edge-special") == "batch");  // exact beats pattern
  CHECK(policy->namespace_tier("ai-services") == nullptr);     // the map is replaced whole
  CHECK_FALSE(policy->may_use_priority_class("shop", "platform-critical"));
  CHECK(policy->may_use_priority_class("platform", "platform-critical"));
  CHECK(policy->scaler_addresses == std::set<std::string>{"ballast.ops.svc:9090"});
}

TEST_CASE("placement rules: anti-affinity modes and weights, several topology keys per tier", "[policy]") {
  auto policy = parse_policy(R"yaml(
tiers:
  coredns:
    priorityClassName: platform-infra-critical
    spread: {maxSkew: 1, whenUnsatisfiable: DoNotSchedule}
    antiAffinity: required
  ai:
    priorityClassName: platform-normal
    spread:
      - {topologyKey: topology.kubernetes.io/zone, maxSkew: 1, whenUnsatisfiable: ScheduleAnyway}
      - {maxSkew: 2}
    antiAffinity:
      - {mode: preferred, weight: 100}
      - {mode: required, topologyKey: topology.kubernetes.io/zone}
  soft:
    antiAffinity: preferred
  standard:
    spread: {maxSkew: 3}
  critical:
    spread: []
    antiAffinity: none
)yaml");
  REQUIRE(policy.ok());
  const Tier& coredns = *policy->find_tier("coredns");
  REQUIRE(coredns.spread.size() == 1);
  CHECK(coredns.spread[0].when_unsatisfiable == "DoNotSchedule");
  CHECK(coredns.spread[0].max_skew == 1);
  REQUIRE(coredns.anti_affinity.size() == 1);
  CHECK(coredns.anti_affinity[0].required);

  struct SpreadRow {
    const char* topology_key;
    int max_skew;
    const char* when;
  };
  const SpreadRow spread_rows[] = {{kZoneTopologyKey, 1, "ScheduleAnyway"},
                                   {kHostnameTopologyKey, 2, "ScheduleAnyway"}};
  const Tier& ai = *policy->find_tier("ai");
  REQUIRE(ai.spread.size() == std::size(spread_rows));
  for (size_t i = 0; i < std::size(spread_rows); ++i) {
    CHECK(ai.spread[i].topology_key == spread_rows[i].topology_key);
    CHECK(ai.spread[i].max_skew == spread_rows[i].max_skew);
    CHECK(ai.spread[i].when_unsatisfiable == spread_rows[i].when);
  }
  struct AntiRow {
    bool required;
    int weight;
    const char* topology_key;
  };
  const AntiRow anti_rows[] = {{false, 100, kHostnameTopologyKey}, {true, 100, kZoneTopologyKey}};
  REQUIRE(ai.anti_affinity.size() == std::size(anti_rows));
  for (size_t i = 0; i < std::size(anti_rows); ++i) {
    CHECK(ai.anti_affinity[i].required == anti_rows[i].required);
    CHECK(ai.anti_affinity[i].weight == anti_rows[i].weight);
    CHECK(ai.anti_affinity[i].topology_key == anti_rows[i].topology_key);
  }
  const Tier& soft = *policy->find_tier("soft");
  REQUIRE(soft.anti_affinity.size() == 1);
  CHECK_FALSE(soft.anti_affinity[0].required);
  CHECK(soft.anti_affinity[0].weight == 100);
  // One mapping changes the built-in tier's rule field by field.
  const Tier& standard = *policy->find_tier("standard");
  REQUIRE(standard.spread.size() == 1);
  CHECK(standard.spread[0].max_skew == 3);
  CHECK(standard.spread[0].when_unsatisfiable == "ScheduleAnyway");
  CHECK(policy->find_tier("critical")->spread.empty());
  CHECK(policy->find_tier("critical")->anti_affinity.empty());
}

TEST_CASE("a tier's budgets for KEDA-scaled workloads are policy", "[policy]") {
  auto policy = parse_policy(R"yaml(
tiers:
  critical:
    pdb:
      minAvailable: 1
      minReplicas: 2
      scaledToZero: {minAvailable: 1}
      kedaMinTwoOrMore: {minAvailable: 1}
  assessment:
    priorityClassName: platform-normal
    pdb: {minAvailable: 1, kedaMinTwoOrMore: {minAvailable: "50%"}}
  standard:
    pdb: {minAvailable: 2}
)yaml");
  REQUIRE(policy.ok());
  struct Row {
    const char* tier;
    BudgetKind zero_kind;
    const char* zero_value;
    BudgetKind two_kind;
    const char* two_value;
  };
  using Kind = BudgetKind;
  const Row rows[] = {
      {"critical", Kind::kMinAvailable, "1", Kind::kMinAvailable, "1"},
      {"assessment", Kind::kMaxUnavailable, "1", Kind::kMinAvailable, "50%"},
      {"standard", Kind::kMaxUnavailable, "1", Kind::kMaxUnavailable, "50%"},  // unset: the built-in budgets
  };
  for (const auto& row : rows) {
    INFO(row.tier);
    const PdbRule& pdb = policy->find_tier(row.tier)->pdb;
    CHECK(pdb.scaled_to_zero.kind == row.zero_kind);
    CHECK(pdb.scaled_to_zero.value == row.zero_value);
    CHECK(pdb.keda_min_two_or_more.kind == row.two_kind);
    CHECK(pdb.keda_min_two_or_more.value == row.two_value);
  }
  CHECK(policy->find_tier("standard")->pdb.value == "2");
}

TEST_CASE("a tier may set starting limits beside its requests", "[policy]") {
  auto policy = parse_policy("tiers: {standard: {limits: {cpu: 50m, memory: 1Gi}}, critical: {limits: {memory: 128Mi}}}");
  REQUIRE(policy.ok());
  CHECK(policy->find_tier("standard")->limits.cpu == "50m");  // equal to the request is fine
  CHECK(policy->find_tier("standard")->limits.memory == "1Gi");
  CHECK(policy->find_tier("critical")->limits.cpu.empty());
  CHECK(default_policy().find_tier("standard")->limits.memory.empty());
}

TEST_CASE("pdbTargets name operator-managed pods by namespace and labels", "[policy]") {
  auto policy = parse_policy(R"yaml(
pdbTargets:
  - name: pg-main
    namespace: databases
    matchLabels: {cnpg.io/cluster: pg-main}
    pdb: {minAvailable: quorum}
  - name: pg-main
    namespace: staging
    matchLabels: {cnpg.io/cluster: pg-main, cnpg.io/podRole: instance}
    pdb: {maxUnavailable: 1}
)yaml");
  REQUIRE(policy.ok());
  REQUIRE(policy->pdb_targets.size() == 2);
  const PdbTarget& main = policy->pdb_targets[0];
  CHECK(main.name == "pg-main");
  CHECK(main.ns == "databases");
  CHECK(main.match_labels == std::map<std::string, std::string>{{"cnpg.io/cluster", "pg-main"}});
  CHECK(main.budget.kind == BudgetKind::kQuorum);
  CHECK(policy->pdb_targets[1].match_labels.size() == 2);
  CHECK(policy->pdb_targets[1].budget.kind == BudgetKind::kMaxUnavailable);
  CHECK(default_policy().pdb_targets.empty());
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
      {"tiers: {standard: {antiAffinity: always}}", "tiers.standard.antiAffinity: expected required, preferred or none"},
      {"tiers: {standard: {antiAffinity: {mode: preferred, weight: 0}}}", "tiers.standard.antiAffinity.weight"},
      {"tiers: {standard: {antiAffinity: {mode: preferred, weight: 101}}}", "expected 1 to 100"},
      {"tiers: {standard: {antiAffinity: {mode: required, weight: 50}}}", "only a preferred term has a weight"},
      {"tiers: {standard: {antiAffinity: {mode: required, colour: red}}}", "unknown key \"colour\""},
      {"tiers: {standard: {antiAffinity: [required, {mode: preferred}]}}", "topologyKey \"kubernetes.io/hostname\" appears twice"},
      {"tiers: {standard: {antiAffinity: [{topologyKey: \"zone with space\"}]}}", "tiers.standard.antiAffinity[0].topologyKey"},
      {"tiers: {standard: {spread: [{topologyKey: a/b/}]}}", "tiers.standard.spread[0].topologyKey: \"a/b/\" is not a label key"},
      {"tiers: {standard: {spread: [{maxSkew: 1}, {maxSkew: 2}]}}", "tiers.standard.spread[1]: topologyKey"},
      {"tiers: {standard: {spread: [{maxSkew: 0, topologyKey: topology.kubernetes.io/zone}]}}", "spread[0].maxSkew"},
      {"tiers: {standard: {pdb: {minAvailable: 1, scaledToZero: {minAvailable: quorum}}}}",
       "tiers.standard.pdb.scaledToZero.minAvailable: expected an integer, a percentage, got \"quorum\""},
      {"tiers: {standard: {pdb: {minAvailable: 1, kedaMinTwoOrMore: {}}}}",
       "tiers.standard.pdb.kedaMinTwoOrMore: needs minAvailable or maxUnavailable"},
      {"tiers: {standard: {pdb: {minAvailable: 1, kedaMinTwoOrMore: {minAvailable: 1, maxUnavailable: 1}}}}",
       "kedaMinTwoOrMore: set minAvailable or maxUnavailable, not both"},
      {"tiers: {standard: {pdb: {minAvailable: 1, kedaMinTwoOrMore: {minReplicas: 2}}}}",
       "tiers.standard.pdb.kedaMinTwoOrMore: unknown key \"minReplicas\""},
      {"tiers: {standard: {pdb: {minAvailable: 1, scaledToZero: {maxUnavailable: 150%}}}}",
       "scaledToZero.maxUnavailable"},
      {"tiers: {standard: {pdb: {minAvailable: 1, scaledtozero: {maxUnavailable: 1}}}}", "unknown key \"scaledtozero\""},
      {"pdbTargets: {pg: 1}", "pdbTargets: expected a list"},
      {"tiers: {standard: {limits: {cpu: 10m}}}", "tiers.standard.limits.cpu: 10m is below the tier's request 50m"},
      {"tiers: {standard: {requests: {memory: 1Gi}, limits: {memory: 512Mi}}}", "limits.memory: 512Mi is below"},
      {"tiers: {standard: {limits: {memory: lots}}}", "tiers.standard.limits.memory: \"lots\" is not a resource quantity"},
      {"tiers: {standard: {limits: {gpu: 1}}}", "tiers.standard.limits: unknown key \"gpu\""},
      {"pdbTargets: [{namespace: db, matchLabels: {a: b}, pdb: {minAvailable: 1}}]", "pdbTargets[0]: needs name"},
      {"pdbTargets: [{name: pg, matchLabels: {a: b}, pdb: {minAvailable: 1}}]", "pdbTargets[0]: needs namespace"},
      {"pdbTargets: [{name: Pg, namespace: db, matchLabels: {a: b}, pdb: {minAvailable: 1}}]", "pdbTargets[0].name"},
      {"pdbTargets: [{name: pg, namespace: db, pdb: {minAvailable: 1}}]", "pdbTargets[0].matchLabels: expected a non-empty"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {}, pdb: {minAvailable: 1}}]", "pdbTargets[0].matchLabels"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {\"a b\": c}, pdb: {minAvailable: 1}}]", "is not a label key"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {a: \"-x\"}, pdb: {minAvailable: 1}}]", "pdbTargets[0].matchLabels.a"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {a: b}}]", "pdbTargets[0]: needs pdb"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {a: b}, pdb: {minReplicas: 1}}]", "pdbTargets[0].pdb: unknown key"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {a: b}, pdb: {minAvailable: few}}]", "pdbTargets[0].pdb.minAvailable"},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {a: b}, pdb: {minAvailable: 1}, tier: x}]", "unknown key \"tier\""},
      {"pdbTargets: [{name: pg, namespace: db, matchLabels: {a: b}, pdb: {minAvailable: 1}}, {name: pg, namespace: db, matchLabels: {a: c}, pdb: {minAvailable: 1}}]", "pdbTargets[1]: db/pg appears twice"},
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

TEST_CASE("a tier's vpa block: update mode, bounds and controlled resources", "[policy]") {
  CHECK_FALSE(default_policy().find_tier("standard")->vpa.has_value());  // absent = no VPA
  auto policy = parse_policy(R"yaml(
tiers:
  standard:
    vpa: {updateMode: InPlaceOrRecreate, minAllowed: {cpu: 25m, memory: 32Mi}, maxAllowed: {cpu: "2", memory: 2Gi},
          controlledResources: [memory]}
  critical:
    vpa: {}
)yaml");
  REQUIRE(policy.ok());
  const VpaRule& standard = *policy->find_tier("standard")->vpa;
  CHECK(standard.update_mode == "InPlaceOrRecreate");
  CHECK(standard.min_allowed.cpu == "25m");
  CHECK(standard.max_allowed.memory == "2Gi");
  CHECK(standard.controlled_resources == std::vector<std::string>{"memory"});
  const VpaRule& critical = *policy->find_tier("critical")->vpa;  // defaults: recommendations only
  CHECK(critical.update_mode == "Off");
  CHECK(critical.controlled_resources == std::vector<std::string>{"cpu", "memory"});
}

TEST_CASE("a bad vpa block is refused with the key named", "[policy]") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tiers: {standard: {vpa: {updateMode: Sometimes}}}", "tiers.standard.vpa.updateMode"},
      {"tiers: {standard: {vpa: {mode: Auto}}}", "tiers.standard.vpa: unknown key \"mode\""},
      {"tiers: {standard: {vpa: {controlledResources: [gpu]}}}", "tiers.standard.vpa.controlledResources"},
      {"tiers: {standard: {vpa: {controlledResources: []}}}", "tiers.standard.vpa.controlledResources"},
      {"tiers: {standard: {vpa: {minAllowed: {cpu: lots}}}}", "tiers.standard.vpa.minAllowed.cpu"},
      {"tiers: {standard: {vpa: {minAllowed: {cpu: 10m}, maxAllowed: {cpu: 5m}}}}",
       "tiers.standard.vpa.maxAllowed.cpu: 5m is below minAllowed 10m"},
      // The tier's starting requests (50m, 64Mi) must lie within the bounds.
      {"tiers: {standard: {vpa: {minAllowed: {memory: 128Mi}}}}",
       "tiers.standard.vpa.minAllowed.memory: 128Mi is above the tier's request 64Mi"},
      {"tiers: {standard: {vpa: {maxAllowed: {cpu: 10m}}}}",
       "tiers.standard.vpa.maxAllowed.cpu: 10m is below the tier's request 50m"},
      {"tiers: {standard: {requests: {cpu: 1}, vpa: {maxAllowed: {cpu: 500m}}}}",
       "tiers.standard.vpa.maxAllowed.cpu: 500m is below the tier's request 1"},
  };
  for (const auto& [yaml, expected] : cases) {
    INFO(yaml);
    auto policy = parse_policy(yaml);
    REQUIRE_FALSE(policy.ok());
    CHECK_THAT(policy.error().message, Catch::Matchers::Contains(expected));
  }
}

TEST_CASE("ballast.dev/skip lists are comma-separated, spaces ignored", "[policy]") {
  CHECK(skip_lists("vpa", "vpa"));
  CHECK(skip_lists(" pdb , vpa ", "vpa"));
  CHECK(skip_lists("pdb,vpa", "pdb"));
  CHECK_FALSE(skip_lists("pdb", "vpa"));
  CHECK_FALSE(skip_lists("vpas", "vpa"));
  CHECK_FALSE(skip_lists("", "vpa"));
}
