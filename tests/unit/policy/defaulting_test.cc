#include "policy/defaulting.h"

#include <catch2/catch.hpp>

using namespace ballast::policy;
using json = nlohmann::json;

namespace {

// Shapes of objects as the apiserver sends them in the mutating phase (webhook.md §1–§2).
json deployment() {
  return json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {
      "name": "web", "namespace": "shop",
      "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\"}"},
      "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1"}]
    },
    "spec": {
      "replicas": 3,
      "selector": {"matchLabels": {"app": "web"}},
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
      "template": {
        "metadata": {"labels": {"app": "web", "version": "v2"}},
        "spec": {
          "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                          "resources": {}, "imagePullPolicy": "IfNotPresent"}],
          "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler"
        }
      }
    },
    "status": {}
  })json");
}

json statefulset() {
  return json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "pg", "namespace": "shop"},
    "spec": {
      "replicas": 3, "serviceName": "pg",
      "selector": {"matchLabels": {"app": "pg"}},
      "template": {
        "metadata": {"labels": {"app": "pg"}},
        "spec": {"containers": [{"name": "pg", "image": "postgres:16",
                                 "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}]}]}
      },
      "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]
    }
  })json");
}

json bare_pod() {
  return json::parse(R"json({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "debug", "namespace": "shop", "labels": {"run": "debug"}},
    "spec": {
      "containers": [{"name": "debug", "image": "busybox", "resources": {},
                      "volumeMounts": [{"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]}],
      "priority": 10000, "priorityClassName": "platform-normal", "preemptionPolicy": "PreemptLowerPriority",
      "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
    },
    "status": {}
  })json");
}

json replicaset_pod() {
  json pod = bare_pod();
  pod["metadata"].erase("name");
  pod["metadata"]["generateName"] = "web-7d4b9c8f5-";
  pod["metadata"]["labels"] = {{"app", "web"}, {"pod-template-hash", "7d4b9c8f5"}};
  pod["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"},
                                                     {"name", "web-7d4b9c8f5"}, {"uid", "0b7c0e0c"},
                                                     {"controller", true}, {"blockOwnerDeletion", true}}});
  return pod;
}

json spec_of(const json& object, WorkloadKind kind) {
  return kind == WorkloadKind::kPod ? object["spec"] : object["spec"]["template"]["spec"];
}

json with_label(json object, const std::string& where, const std::string& tier) {
  if (where == "workload") object["metadata"]["labels"][kTierLabel] = tier;
  if (where == "template") object["spec"]["template"]["metadata"]["labels"][kTierLabel] = tier;
  return object;
}

}  // namespace

TEST_CASE("the tier comes from the label, then the template, namespace, kind and default", "[policy]") {
  TierPolicy policy = default_policy();
  policy.namespace_tiers["team-*"] = "critical";
  struct Row {
    const char* name;
    json object;
    WorkloadKind kind;
    const char* ns;
    const char* tier;
    const char* source;
    size_t warnings;
  };
  const Row rows[] = {
      {"workload label wins", with_label(with_label(deployment(), "template", "batch"), "workload", "critical"),
       WorkloadKind::kDeployment, "databases", "critical", "workload label", 0},
      {"template label next", with_label(deployment(), "template", "batch"), WorkloadKind::kDeployment, "databases",
       "batch", "pod template label", 0},
      {"unknown label falls through", with_label(deployment(), "workload", "gold"), WorkloadKind::kDeployment,
       "ai-services", "scale-to-zero", "namespace rule", 1},
      {"namespace rule", deployment(), WorkloadKind::kDeployment, "databases", "stateful", "namespace rule", 0},
      {"namespace pattern", deployment(), WorkloadKind::kDeployment, "team-blue", "critical", "namespace rule", 0},
      {"namespace rule beats kind", statefulset(), WorkloadKind::kStatefulSet, "monitoring", "infra", "namespace rule",
       0},
      {"statefulsets default to stateful", statefulset(), WorkloadKind::kStatefulSet, "shop", "stateful", "kind", 0},
      {"anything else is standard", deployment(), WorkloadKind::kDeployment, "shop", "standard", "default", 0},
      {"a pod's own label", with_label(bare_pod(), "workload", "batch"), WorkloadKind::kPod, "shop", "batch",
       "workload label", 0},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    const TierChoice choice = select_tier(row.object, row.kind, row.ns, policy);
    REQUIRE(choice.tier != nullptr);
    CHECK(choice.tier->name == row.tier);
    CHECK(choice.source == row.source);
    CHECK(choice.warnings.size() == row.warnings);
  }
}

TEST_CASE("a standard deployment gets soft spread, its class, requests and the applied-tier annotation", "[policy]") {
  const auto result = apply_defaults(deployment(), WorkloadKind::kDeployment, "shop", default_policy());
  CHECK(result.tier == "standard");
  const json spec = spec_of(result.object, WorkloadKind::kDeployment);
  CHECK(spec["topologySpreadConstraints"] == json::parse(R"json([{
      "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
      "labelSelector": {"matchLabels": {"app": "web"}}, "matchLabelKeys": ["pod-template-hash"]}])json"));
  CHECK_FALSE(spec.contains("affinity"));
  CHECK(spec["priorityClassName"] == "platform-normal");
  CHECK(spec["containers"][0]["resources"] == json::parse(R"({"requests": {"cpu": "50m", "memory": "64Mi"}})"));
  CHECK(result.object["metadata"]["annotations"][kAppliedTierAnnotation] == "standard");
  CHECK(result.object["metadata"]["annotations"].contains("kubectl.kubernetes.io/last-applied-configuration"));
  CHECK(result.warnings.size() == 3);
  for (const auto& warning : result.warnings) CHECK(warning.size() <= 120);
  // Everything outside the pod template spec and the annotation is untouched.
  json expected = deployment();
  expected["spec"]["template"]["spec"] = result.object["spec"]["template"]["spec"];
  expected["metadata"]["annotations"][kAppliedTierAnnotation] = "standard";
  CHECK(result.object == expected);
}

TEST_CASE("a statefulset gets hard spread honoring taints and required anti-affinity", "[policy]") {
  const auto result = apply_defaults(statefulset(), WorkloadKind::kStatefulSet, "shop", default_policy());
  CHECK(result.tier == "stateful");
  const json spec = spec_of(result.object, WorkloadKind::kStatefulSet);
  CHECK(spec["topologySpreadConstraints"] == json::parse(R"json([{
      "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
      "labelSelector": {"matchLabels": {"app": "pg"}}, "nodeTaintsPolicy": "Honor"}])json"));
  CHECK(spec["affinity"] == json::parse(R"json({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
      {"labelSelector": {"matchLabels": {"app": "pg"}}, "topologyKey": "kubernetes.io/hostname"}]}})json"));
  CHECK(spec["priorityClassName"] == "platform-critical");
  CHECK(spec["containers"][0]["resources"]["requests"] == json::parse(R"({"cpu": "250m", "memory": "256Mi"})"));
  CHECK(result.object["spec"]["volumeClaimTemplates"] == statefulset()["spec"]["volumeClaimTemplates"]);
}

TEST_CASE("the spread selector is the workload's selector, matchExpressions included", "[policy]") {
  json object = deployment();
  object["spec"]["selector"] = json::parse(R"json({"matchLabels": {"app": "web"},
      "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "canary"]}]})json");
  auto result = apply_defaults(object, WorkloadKind::kDeployment, "shop", default_policy());
  const json constraint = result.object["spec"]["template"]["spec"]["topologySpreadConstraints"][0];
  CHECK(constraint["labelSelector"] == object["spec"]["selector"]);
  CHECK(constraint["matchLabelKeys"] == json::array({"pod-template-hash"}));

  // matchLabelKeys must stay disjoint from the selector's keys.
  object["spec"]["selector"]["matchLabels"]["pod-template-hash"] = "abc";
  result = apply_defaults(object, WorkloadKind::kDeployment, "shop", default_policy());
  CHECK_FALSE(result.object["spec"]["template"]["spec"]["topologySpreadConstraints"][0].contains("matchLabelKeys"));
}

TEST_CASE("explicit user settings always win", "[policy]") {
  struct Row {
    const char* name;
    const char* template_spec_patch;  // merged into the StatefulSet's pod template spec
    const char* unchanged;            // JSON pointer (under the pod spec) that must come out as it went in
  };
  const Row rows[] = {
      {"a soft hostname constraint stays the only one",
       R"({"topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "kubernetes.io/hostname",
           "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "pg"}}}]})",
       "/topologySpreadConstraints"},
      {"required hostname anti-affinity of the user's own",
       R"({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
           {"labelSelector": {"matchLabels": {"role": "primary"}}, "topologyKey": "kubernetes.io/hostname"}]}}})",
       "/affinity"},
      {"preferred hostname anti-affinity is a deliberate choice",
       R"({"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
           "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "pg"}}, "topologyKey": "kubernetes.io/hostname"}}]}}})",
       "/affinity"},
      {"a priority class of the user's own", R"({"priorityClassName": "batch-low"})", "/priorityClassName"},
      {"requests of the user's own", R"({"containers": [{"name": "pg", "image": "postgres:16",
           "resources": {"requests": {"memory": "1Gi"}}}]})",
       "/containers"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    json object = statefulset();
    object["spec"]["template"]["spec"].merge_patch(json::parse(row.template_spec_patch));
    const auto result = apply_defaults(object, WorkloadKind::kStatefulSet, "shop", default_policy());
    const json::json_pointer pointer(std::string("/spec/template/spec") + row.unchanged);
    CHECK(result.object[pointer] == object[pointer]);
    CHECK(result.tier == "stateful");
  }
}

TEST_CASE("a tier's placement rules become one term per topology key, each only where absent", "[policy]") {
  auto policy = parse_policy(R"yaml(
tiers:
  ai:
    priorityClassName: platform-normal
    spread:
      - {topologyKey: topology.kubernetes.io/zone, maxSkew: 1, whenUnsatisfiable: DoNotSchedule}
      - {maxSkew: 1, whenUnsatisfiable: ScheduleAnyway}
    antiAffinity:
      - {mode: preferred, weight: 100}
      - {mode: required, topologyKey: topology.kubernetes.io/zone}
)yaml");
  REQUIRE(policy.ok());
  struct Row {
    const char* name;
    const char* template_spec_patch;  // merged into the Deployment's pod template spec
    std::vector<std::string> spread_keys;            // topologyKey of each constraint, in order
    std::vector<std::string> required_keys;          // of the required anti-affinity terms
    std::vector<std::pair<int, std::string>> preferred;  // weight, topologyKey of preferred terms
  };
  const std::string zone = kZoneTopologyKey;
  const std::string host = kHostnameTopologyKey;
  const Row rows[] = {
      {"nothing set: every rule", "{}", {zone, host}, {zone}, {{100, host}}},
      {"the user's zone spread stays, hostname is added",
       R"({"topologySpreadConstraints": [{"maxSkew": 3, "topologyKey": "topology.kubernetes.io/zone",
           "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}]})",
       {zone, host}, {zone}, {{100, host}}},
      {"a user's required hostname term replaces the preferred one",
       R"({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
           {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}})",
       {zone, host}, {host, zone}, {}},
      {"a user's preferred zone term replaces the required one",
       R"({"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 5,
           "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                               "topologyKey": "topology.kubernetes.io/zone"}}]}}})",
       {zone, host}, {}, {{5, zone}, {100, host}}},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    json object = deployment();
    object["spec"]["template"]["spec"].merge_patch(json::parse(row.template_spec_patch));
    object = with_label(object, "workload", "ai");
    const auto first = apply_defaults(object, WorkloadKind::kDeployment, "shop", *policy);
    const json& spec = first.object["spec"]["template"]["spec"];
    std::vector<std::string> spread_keys;
    for (const auto& constraint : spec.value("topologySpreadConstraints", json::array())) {
      spread_keys.push_back(constraint["topologyKey"]);
    }
    CHECK(spread_keys == row.spread_keys);
    const json anti = spec.contains("affinity") ? spec["affinity"]["podAntiAffinity"] : json::object();
    std::vector<std::string> required_keys;
    for (const auto& term : anti.value("requiredDuringSchedulingIgnoredDuringExecution", json::array())) {
      required_keys.push_back(term["topologyKey"]);
      CHECK(term["labelSelector"] == json{{"matchLabels", {{"app", "web"}}}});
    }
    CHECK(required_keys == row.required_keys);
    std::vector<std::pair<int, std::string>> preferred;
    for (const auto& term : anti.value("preferredDuringSchedulingIgnoredDuringExecution", json::array())) {
      preferred.emplace_back(term["weight"].get<int>(), term["podAffinityTerm"]["topologyKey"].get<std::string>());
    }
    CHECK(preferred == row.preferred);
    const auto second = apply_defaults(first.object, WorkloadKind::kDeployment, "shop", *policy);
    CHECK(second.object == first.object);
  }
}

TEST_CASE("a CoreDNS-style tier: required hostname anti-affinity and hard skew 1", "[policy]") {
  auto policy = parse_policy(R"yaml(
tiers:
  dns:
    priorityClassName: system-cluster-critical
    spread: {maxSkew: 1, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor}
    antiAffinity: required
    pdb: {minAvailable: 1}
namespaces: {kube-system: dns}
)yaml");
  REQUIRE(policy.ok());
  json coredns = deployment();
  coredns["metadata"]["name"] = "coredns";
  coredns["spec"]["selector"] = {{"matchLabels", {{"k8s-app", "kube-dns"}}}};
  coredns["spec"]["template"]["metadata"]["labels"] = {{"k8s-app", "kube-dns"}};
  const auto result = apply_defaults(coredns, WorkloadKind::kDeployment, "kube-system", *policy);
  const json& spec = result.object["spec"]["template"]["spec"];
  CHECK(result.tier == "dns");
  CHECK(spec["priorityClassName"] == "system-cluster-critical");  // kube-system is privileged
  CHECK(spec["topologySpreadConstraints"] ==
        json::parse(R"([{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                         "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                         "matchLabelKeys": ["pod-template-hash"]}])"));
  CHECK(spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] ==
        json::parse(R"([{"labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                         "topologyKey": "kubernetes.io/hostname"}])"));
}

TEST_CASE("starting limits go with the requests only on containers that set no resources", "[policy]") {
  auto policy = parse_policy("tiers: {standard: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}}");
  REQUIRE(policy.ok());
  struct Row {
    const char* name;
    const char* resources;  // the container's resources; "null" = absent
    const char* expected;   // resources after defaulting
  };
  const Row rows[] = {
      {"nothing set", "null", R"({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}})"},
      {"empty resources", "{}", R"({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}})"},
      // No cpu request beside a cpu limit (Kubernetes defaults it to the limit), no tier limits.
      {"a cpu limit of the user's", R"({"limits": {"cpu": "1"}})",
       R"({"requests": {"memory": "64Mi"}, "limits": {"cpu": "1"}})"},
      {"requests of the user's", R"({"requests": {"cpu": "10m"}})", R"({"requests": {"cpu": "10m"}})"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    json object = deployment();
    json& container = object["spec"]["template"]["spec"]["containers"][0];
    const json resources = json::parse(row.resources);
    if (resources.is_null()) {
      container.erase("resources");
    } else {
      container["resources"] = resources;
    }
    const auto first = apply_defaults(object, WorkloadKind::kDeployment, "shop", *policy);
    CHECK(first.object["spec"]["template"]["spec"]["containers"][0]["resources"] == json::parse(row.expected));
    CHECK(apply_defaults(first.object, WorkloadKind::kDeployment, "shop", *policy).object == first.object);
  }
}

TEST_CASE("jobs and cronjob templates get their tier's class and requests, never spread", "[policy]") {
  const json job = json::parse(R"json({
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "report", "namespace": "shop", "labels": {"ballast.dev/tier": "batch"}},
    "spec": {"backoffLimit": 2, "template": {
      "metadata": {"labels": {"job-name": "report"}},
      "spec": {"restartPolicy": "Never", "containers": [{"name": "report", "image": "report:1"}]}}}
  })json");
  json cron = json::parse(R"json({
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "nightly", "namespace": "databases"},
    "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
      "metadata": {"labels": {"app": "nightly"}},
      "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "dump", "image": "pg:16"}]}}}}}
  })json");
  struct Row {
    const char* name;
    json object;
    WorkloadKind kind;
    const char* tier;
    const char* priority_class;
    const char* cpu;
  };
  const Row rows[] = {
      {"job labelled batch", job, WorkloadKind::kJob, "batch", "batch-low", "100m"},
      // The namespace rule's tier (stateful) asks for spread and anti-affinity: not for jobs.
      {"cronjob in databases", cron, WorkloadKind::kCronJob, "stateful", "platform-critical", "250m"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    CHECK(workload_kind("batch", row.object["kind"].get<std::string>()) == row.kind);
    const auto result = apply_defaults(row.object, row.kind, row.object["metadata"]["namespace"].get<std::string>(),
                                       default_policy());
    CHECK(result.tier == row.tier);
    const json& spec = result.object[json::json_pointer(pod_spec_pointer(row.kind))];
    CHECK(spec["priorityClassName"] == row.priority_class);
    CHECK(spec["containers"][0]["resources"]["requests"]["cpu"] == row.cpu);
    CHECK_FALSE(spec.contains("topologySpreadConstraints"));
    CHECK_FALSE(spec.contains("affinity"));
    const auto second = apply_defaults(result.object, row.kind, "databases", default_policy());
    CHECK(second.object == result.object);
  }
  // A template label picks the tier as on Deployments.
  cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]["ballast.dev/tier"] = "batch";
  CHECK(select_tier(cron, WorkloadKind::kCronJob, "databases", default_policy()).tier->name == "batch");
}

TEST_CASE("defaults merge beside existing settings instead of replacing them", "[policy]") {
  json object = statefulset();
  object["spec"]["template"]["spec"]["affinity"] = json::parse(R"json({"nodeAffinity": {
      "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "workload-type", "operator": "In", "values": ["db"]}]}]}}})json");
  object["spec"]["template"]["spec"]["topologySpreadConstraints"] = json::parse(R"json([{"maxSkew": 1,
      "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
      "labelSelector": {"matchLabels": {"app": "pg"}}}])json");
  object["spec"]["template"]["spec"]["containers"].push_back(
      {{"name", "exporter"}, {"image", "exporter"}, {"resources", {{"limits", {{"cpu", "100m"}}}}}});
  const auto result = apply_defaults(object, WorkloadKind::kStatefulSet, "shop", default_policy());
  const json spec = result.object["spec"]["template"]["spec"];
  CHECK(spec["affinity"]["nodeAffinity"] == object["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]);
  CHECK(spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"].size() == 1);
  REQUIRE(spec["topologySpreadConstraints"].size() == 2);
  CHECK(spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone");
  CHECK(spec["topologySpreadConstraints"][1]["topologyKey"] == "kubernetes.io/hostname");
  // A limit without a request defaults the request to the limit; only memory is ours to add.
  CHECK(spec["containers"][1]["resources"] == json::parse(R"({"limits": {"cpu": "100m"}, "requests": {"memory": "256Mi"}})"));
}

TEST_CASE("a second pass over defaulted objects changes nothing", "[policy]") {
  const TierPolicy policy = default_policy();
  struct Row {
    const char* name;
    json object;
    WorkloadKind kind;
    const char* ns;
  };
  const Row rows[] = {
      {"deployment", deployment(), WorkloadKind::kDeployment, "shop"},
      {"infra deployment", deployment(), WorkloadKind::kDeployment, "monitoring"},
      {"statefulset", statefulset(), WorkloadKind::kStatefulSet, "shop"},
      {"bare pod", bare_pod(), WorkloadKind::kPod, "shop"},
      {"batch deployment", with_label(deployment(), "workload", "batch"), WorkloadKind::kDeployment, "shop"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    const auto first = apply_defaults(row.object, row.kind, row.ns, policy);
    CHECK(first.object != row.object);
    const auto second = apply_defaults(first.object, row.kind, row.ns, policy);
    CHECK(second.object == first.object);
    CHECK(json::diff(first.object, second.object).empty());
  }
}

TEST_CASE("the defaults annotation is off in any case, and only for off", "[policy]") {
  const TierPolicy policy = default_policy();
  struct Row {
    const char* value;
    bool off;
  };
  const Row rows[] = {{"off", true},   {"OFF", true},  {"Off", true},   {" off ", true},
                      {"on", false},   {"", false},    {"offline", false}, {"of", false}};
  for (const auto& row : rows) {
    INFO("\"" << row.value << "\"");
    CHECK(defaults_off(row.value) == row.off);
    json object = statefulset();
    object["metadata"]["annotations"][kDefaultsAnnotation] = row.value;
    CHECK(apply_defaults(object, WorkloadKind::kStatefulSet, "shop", policy).tier.empty() == row.off);
  }
}

TEST_CASE("opt-out annotations switch defaults off, wholly or in part", "[policy]") {
  const TierPolicy policy = default_policy();
  json off = statefulset();
  off["metadata"]["annotations"][kDefaultsAnnotation] = "off";
  CHECK(apply_defaults(off, WorkloadKind::kStatefulSet, "shop", policy).object == off);
  CHECK(apply_defaults(off, WorkloadKind::kStatefulSet, "shop", policy).tier.empty());

  json template_off = statefulset();
  template_off["spec"]["template"]["metadata"]["annotations"][kDefaultsAnnotation] = "off";
  CHECK(apply_defaults(template_off, WorkloadKind::kStatefulSet, "shop", policy).object == template_off);

  struct Row {
    const char* skip;
    bool spread, affinity, priority, resources;
    size_t unknown_warnings;
  };
  const Row rows[] = {
      {"spread", false, true, true, true, 0},
      {"affinity", true, false, true, true, 0},
      {"priority, resources", true, true, false, false, 0},
      {"spread,priority,affinity,resources,pdb", false, false, false, false, 0},
      {"pdb", true, true, true, true, 0},
      {"sprad", true, true, true, true, 1},
  };
  for (const auto& row : rows) {
    INFO(row.skip);
    json object = statefulset();
    object["metadata"]["annotations"][kSkipAnnotation] = row.skip;
    const auto result = apply_defaults(object, WorkloadKind::kStatefulSet, "shop", policy);
    const json spec = result.object["spec"]["template"]["spec"];
    CHECK(spec.contains("topologySpreadConstraints") == row.spread);
    CHECK(spec.contains("affinity") == row.affinity);
    CHECK(spec.contains("priorityClassName") == row.priority);
    CHECK(spec["containers"][0].contains("resources") == row.resources);
    CHECK(result.object["metadata"]["annotations"][kAppliedTierAnnotation] == "stateful");
    size_t unknown = 0;
    for (const auto& warning : result.warnings) unknown += warning.find("unknown entry") != std::string::npos;
    CHECK(unknown == row.unknown_warnings);
  }
}

TEST_CASE("bare pods get spread and requests", "[policy]") {
  const auto result = apply_defaults(bare_pod(), WorkloadKind::kPod, "shop", default_policy());
  const json spec = result.object["spec"];
  CHECK(spec["topologySpreadConstraints"][0]["labelSelector"] == json::parse(R"({"matchLabels": {"run": "debug"}})"));
  CHECK_FALSE(spec["topologySpreadConstraints"][0].contains("matchLabelKeys"));
  CHECK(spec["containers"][0]["resources"]["requests"]["cpu"] == "50m");
  CHECK(result.object["metadata"]["annotations"][kAppliedTierAnnotation] == "standard");
}

// The Priority plugin runs before webhooks (found on the real apiserver): a bare Pod arrives
// with the cluster default resolved, and only that default is replaced by the tier's class,
// with the value and preemptionPolicy the plugin computes for it.
TEST_CASE("a bare pod's class resolved from the cluster default becomes its tier's", "[policy]") {
  struct Row {
    const char* name;
    const char* ns;
    const char* tier_label;  // "" = none
    json class_name;         // null = absent
    json priority;           // null = absent
    json want_class;
    json want_priority;
    json want_preemption;
  };
  const Row rows[] = {
      {"default class of a tier that uses it stays", "shop", "", "platform-normal", 10000, "platform-normal", 10000,
       "PreemptLowerPriority"},
      {"default class replaced for a stateful namespace", "databases", "", "platform-normal", 10000,
       "platform-critical", 100000, "PreemptLowerPriority"},
      {"batch tier gets its class and Never", "shop", "batch", "platform-normal", 10000, "batch-low", 1000, "Never"},
      {"a cluster without a default: no class, priority 0", "databases", "", nullptr, 0, "platform-critical", 100000,
       "PreemptLowerPriority"},
      {"no Priority plugin: nothing resolved", "databases", "", nullptr, nullptr, "platform-critical", 100000,
       "PreemptLowerPriority"},
      {"a class the user chose stays", "databases", "", "batch-low", 1000, "batch-low", 1000, "PreemptLowerPriority"},
      {"a default with another value is not the plugin's", "databases", "", "platform-normal", 5, "platform-normal",
       5, "PreemptLowerPriority"},
      {"a reserved class stays out of unprivileged namespaces", "shop", "infra", "platform-normal", 10000,
       "platform-normal", 10000, "PreemptLowerPriority"},
  };
  for (const Row& row : rows) {
    INFO(row.name);
    json pod = bare_pod();
    pod["metadata"]["namespace"] = row.ns;
    if (*row.tier_label != '\0') pod["metadata"]["labels"]["ballast.dev/tier"] = row.tier_label;
    pod["spec"].erase("priorityClassName");
    pod["spec"].erase("priority");
    if (!row.class_name.is_null()) pod["spec"]["priorityClassName"] = row.class_name;
    if (!row.priority.is_null()) pod["spec"]["priority"] = row.priority;
    const json spec = apply_defaults(pod, WorkloadKind::kPod, row.ns, default_policy()).object["spec"];
    CHECK(spec.value("priorityClassName", json()) == row.want_class);
    CHECK(spec.value("priority", json()) == row.want_priority);
    CHECK(spec.value("preemptionPolicy", json()) == row.want_preemption);
  }
}

TEST_CASE("controller-owned and mirror pods are left alone", "[policy]") {
  const TierPolicy policy = default_policy();
  const json owned = replicaset_pod();
  CHECK(apply_defaults(owned, WorkloadKind::kPod, "shop", policy).object == owned);
  json mirror = bare_pod();
  mirror["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "0a1b2c";
  CHECK(apply_defaults(mirror, WorkloadKind::kPod, "kube-system", policy).object == mirror);
  // An owner that is not the controller (a garbage-collection link) does not count.
  json adopted = bare_pod();
  adopted["metadata"]["ownerReferences"] = json::array({{{"kind", "ConfigMap"}, {"name", "x"}, {"uid", "1"}}});
  CHECK(apply_defaults(adopted, WorkloadKind::kPod, "shop", policy).object != adopted);
}

TEST_CASE("a pod without labels gets no spread, and says so", "[policy]") {
  json pod = bare_pod();
  pod["metadata"].erase("labels");
  const auto result = apply_defaults(pod, WorkloadKind::kPod, "shop", default_policy());
  CHECK_FALSE(result.object["spec"].contains("topologySpreadConstraints"));
  CHECK(result.object["spec"]["containers"][0]["resources"].contains("requests"));
  bool said = false;
  for (const auto& warning : result.warnings) said = said || warning.find("no selector") != std::string::npos;
  CHECK(said);
}

TEST_CASE("a tier's restricted class is not defaulted where the namespace may not use it", "[policy]") {
  const TierPolicy policy = default_policy();
  const json infra = with_label(deployment(), "workload", "infra");
  const auto elsewhere = apply_defaults(infra, WorkloadKind::kDeployment, "shop", policy);
  CHECK_FALSE(elsewhere.object["spec"]["template"]["spec"].contains("priorityClassName"));
  CHECK(elsewhere.object["spec"]["template"]["spec"].contains("affinity"));  // the rest of the tier applies
  bool said = false;
  for (const auto& warning : elsewhere.warnings) said = said || warning.find("not allowed") != std::string::npos;
  CHECK(said);
  const auto allowed = apply_defaults(infra, WorkloadKind::kDeployment, "monitoring", policy);
  CHECK(allowed.object["spec"]["template"]["spec"]["priorityClassName"] == "platform-infra-critical");
}

TEST_CASE("other kinds and odd shapes pass through untouched", "[policy]") {
  const TierPolicy policy = default_policy();
  CHECK(workload_kind("apps", "DaemonSet") == WorkloadKind::kOther);
  CHECK(workload_kind("", "Pod") == WorkloadKind::kPod);
  CHECK(workload_kind("apps", "Deployment") == WorkloadKind::kDeployment);
  const json daemonset = deployment();
  CHECK(apply_defaults(daemonset, WorkloadKind::kOther, "shop", policy).object == daemonset);
  for (const char* odd : {R"({"metadata": {"name": "x"}, "spec": {"template": {"spec": []}}})",
                          R"({"metadata": {"name": "x"}, "spec": "weird"})", R"({"metadata": 3})", R"([1, 2])"}) {
    INFO(odd);
    const json object = json::parse(odd);
    CHECK(apply_defaults(object, WorkloadKind::kDeployment, "shop", policy).object == object);
  }
  json weird_containers = deployment();
  weird_containers["spec"]["template"]["spec"]["containers"] = json::array({"not-an-object", nullptr});
  weird_containers["spec"]["template"]["spec"]["topologySpreadConstraints"] = "nope";
  weird_containers["spec"]["template"]["spec"]["affinity"] = 7;
  const auto result = apply_defaults(weird_containers, WorkloadKind::kDeployment, "shop", policy);
  CHECK(result.object["spec"]["template"]["spec"]["containers"] == weird_containers["spec"]["template"]["spec"]["containers"]);
  CHECK(result.object["spec"]["template"]["spec"]["topologySpreadConstraints"] == "nope");
}
