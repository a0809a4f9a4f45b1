#include "nodepool/cluster_model.h"

#include <catch2/catch.hpp>

#include "unit/nodepool/cluster_builder.h"

using namespace ballast::nodepool;
using namespace ballast::nodepool::testing;

TEST_CASE("a List snapshot yields typed nodes, pods, PDBs and NodeGroups", "[model]") {
  json list{{"apiVersion", "v1"},
            {"kind", "List"},
            {"items",
             {node("n1", "general"), pod("shop", "web", "n1", "250m", "512Mi"), pdb("shop", "web", {{"app", "web"}}, 1),
              node_group("general", 1, 6),
              {{"kind", "ConfigMap"}, {"apiVersion", "v1"}, {"metadata", {{"name", "x"}, {"namespace", "d"}}}}}}};
  auto parsed = parse_snapshot(list);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->nodes.size() == 1);
  CHECK(parsed->nodes[0].group() == "general");
  CHECK(parsed->nodes[0].allocatable == Resources{4000, 8LL << 30, 110});
  REQUIRE(parsed->pods.size() == 1);
  CHECK(parsed->pods[0].spec.requests == Resources{250, 512LL << 20, 1});
  CHECK(parsed->pods[0].controller_kind == "ReplicaSet");
  REQUIRE(parsed->node_groups.size() == 1);
  CHECK(parsed->node_groups[0].offerings[0].capacity == Resources{4000, 8LL << 30, 110});
  CHECK(parsed->node_groups[0].reserved == Resources{100, 256LL << 20, 0});
  REQUIRE(parsed->notes.size() == 1);
  CHECK(parsed->notes[0].find("ConfigMap x") != std::string::npos);
}

TEST_CASE("pod requests are max(containers + sidecars, init peak) plus overhead", "[model]") {
  json p = pod("ai", "stt", "", "1", "1Gi");
  p["spec"]["containers"].push_back({{"name", "b"}, {"resources", {{"requests", {{"cpu", "500m"}}}}}});
  p["spec"]["initContainers"] = {
      {{"name", "migrate"}, {"resources", {{"requests", {{"cpu", "2"}, {"memory", "256Mi"}}}}}},
      {{"name", "proxy"}, {"restartPolicy", "Always"}, {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}},
      {{"name", "late"}, {"resources", {{"requests", {{"memory", "2Gi"}}}}}}};
  p["spec"]["overhead"] = {{"cpu", "10m"}, {"memory", "1Mi"}};
  auto parsed = parse_pod(p);
  REQUIRE(parsed.ok());
  // cpu: max(1.5 + 0.1, 2) = 2 → 2010m; memory: max(1Gi + 64Mi, 64Mi + 2Gi) = 2Gi + 64Mi → + 1Mi
  CHECK(parsed->spec.requests.cpu_milli == 2010);
  CHECK(parsed->spec.requests.memory_bytes == (2LL << 30) + (65LL << 20));
}

TEST_CASE("pods record local storage, mirror and unschedulable state", "[model]") {
  json p = pending_pod("db", "pg-0", "1", "1Gi", "2026-11-22T09:59:00Z");
  p["spec"]["volumes"] = {{{"name", "cache"}, {"emptyDir", json::object()}},
                          {{"name", "shm"}, {"emptyDir", {{"medium", "Memory"}}}},
                          {{"name", "host"}, {"hostPath", {{"path", "/var"}}}}};
  p["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "abc"}};
  auto parsed = parse_pod(p);
  REQUIRE(parsed.ok());
  CHECK(parsed->local_volumes == std::vector<std::string>{"cache", "host"});
  CHECK(parsed->mirror);
  CHECK(parsed->unschedulable);
  CHECK(*parsed->unschedulable_since == at("2026-11-22T09:59:00Z"));
}

TEST_CASE("malformed objects are errors naming kind, namespace, name and field", "[model]") {
  struct Row {
    json object;
    std::string expected;
  };
  json bad_cpu = pod("shop", "web", "n1", "lots", "1Gi");
  json bad_taint = node("n1", "g");
  bad_taint["spec"]["taints"] = {{{"key", "a"}, {"effect", "Sometimes"}}};
  json bad_group = node_group("general", 3, 1);
  json bad_offering = node_group("general", 1, 3);
  bad_offering["spec"]["offerings"][0]["memory"] = "8 GB";
  json no_alloc = node("n2", "g");
  no_alloc["status"].erase("allocatable");
  const std::vector<Row> rows = {
      {bad_cpu, "Pod shop/web: spec.containers[0].resources.requests.cpu: invalid quantity \"lots\""},
      {bad_taint, "Node n1: spec.taints[0].effect"},
      {bad_group, "NodeGroup general: spec.maxNodes"},
      {bad_offering, "NodeGroup general: spec.offerings[0].memory: invalid quantity"},
      {no_alloc, "Node n2: status.allocatable: required"},
      {json{{"kind", "Pod"}, {"metadata", {{"name", "x"}, {"namespace", "y"}}}, {"spec", {{"containers", 3}}}},
       "Pod y/x: spec.containers: expected an array"},
  };
  for (const auto& row : rows) {
    auto parsed = parse_objects({row.object});
    REQUIRE_FALSE(parsed.ok());
    INFO(parsed.error().message);
    CHECK(parsed.error().message.rfind(row.expected, 0) == 0);
  }
}

TEST_CASE("a snapshot that is not a List of objects is an error", "[model]") {
  CHECK_FALSE(parse_snapshot(json::array()).ok());
  CHECK_FALSE(parse_snapshot(json{{"kind", "List"}, {"items", 5}}).ok());
  auto no_kind = parse_snapshot(json{{"kind", "List"}, {"items", {{{"metadata", {{"name", "x"}}}}}}});
  REQUIRE_FALSE(no_kind.ok());
  CHECK(no_kind.error().message.find("item 0") != std::string::npos);
}

TEST_CASE("NodeGroup spec and status fields are read with documented defaults", "[model]") {
  json g = node_group("gpu", 0, 4);
  g["spec"]["priority"] = 10;
  g["spec"]["reserved"] = {{"cpu", "200m"}, {"memory", "512Mi"}};
  g["spec"]["taints"] = {{{"key", "gpu"}, {"value", "true"}, {"effect", "NoSchedule"}}};
  g["spec"]["scaleDown"] = {{"enabled", false}, {"utilizationThreshold", 0.6}, {"maxEmptyBulkDelete", 2}};
  g["status"] = {{"inFlight", {{{"name", "gpu-abc"}, {"offering", "V92"}, {"requestedAt", kNow}}}},
                 {"lastScaleUp", {{"time", kNow}}},
                 {"nodes", {{{"name", "n1"}, {"unneededSince", kLongAgo}}}}};
  auto parsed = parse_node_group(g);
  REQUIRE(parsed.ok());
  CHECK(parsed->priority == 10);
  CHECK(parsed->reserved == Resources{200, 512LL << 20, 0});
  CHECK(parsed->taints.size() == 1);
  CHECK_FALSE(parsed->scale_down.enabled);
  CHECK(parsed->scale_down.utilization_threshold == Approx(0.6));
  CHECK(parsed->scale_down.unneeded_seconds == 600);
  CHECK(parsed->scale_down.max_empty_bulk_delete == 2);
  CHECK(parsed->scale_up.pod_age_seconds == 5);
  REQUIRE(parsed->status.in_flight.size() == 1);
  CHECK(parsed->status.last_scale_up == at(kNow));
  CHECK(parsed->status.nodes[0].unneeded_since == at(kLongAgo));
}

TEST_CASE("streaming text parsing gives the same snapshot as the DOM parser", "[model]") {
  json list{{"apiVersion", "v1"},
            {"kind", "List"},
            {"metadata", {{"resourceVersion", ""}}},
            {"items",
             {node("n1", "general"), pod("shop", "web", "n1", "250m", "512Mi"), pdb("shop", "web", {{"app", "web"}}, 1),
              node_group("general", 1, 6), pending_pod("ai", "stt", "2", "4Gi"),
              {{"kind", "Service"}, {"metadata", {{"name", "api"}, {"namespace", "shop"}}}}}}};
  auto streamed = parse_snapshot_text(list.dump());
  auto dom = parse_snapshot(list);
  REQUIRE(streamed.ok());
  REQUIRE(dom.ok());
  CHECK(streamed->nodes.size() == 1);
  CHECK(streamed->pods.size() == 2);
  CHECK(streamed->pods[1].unschedulable);
  CHECK(streamed->pods[0].spec.requests == dom->pods[0].spec.requests);
  CHECK(streamed->pdbs.size() == 1);
  CHECK(streamed->node_groups.size() == 1);
  CHECK(streamed->notes == dom->notes);
  // One object, not a List.
  auto single = parse_snapshot_text(node("n2", "g").dump());
  REQUIRE(single.ok());
  CHECK(single->nodes[0].name == "n2");
}

TEST_CASE("streaming text parsing reports bad JSON and bad objects", "[model]") {
  CHECK(parse_snapshot_text("{\"items\": [").error().message == "not valid JSON");
  auto bad = parse_snapshot_text(json{{"kind", "List"}, {"items", {pod("shop", "web", "n1", "x", "1Gi")}}}.dump());
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.rfind("Pod shop/web: ", 0) == 0);
  auto not_object = parse_snapshot_text(R"({"kind": "List", "items": [3]})");
  REQUIRE_FALSE(not_object.ok());
  CHECK(not_object.error().message.find("item 0") != std::string::npos);
  auto nested_array = parse_snapshot_text(R"({"kind": "List", "items": [[1]]})");
  CHECK_FALSE(nested_array.ok());
}

TEST_CASE("PersistentVolumes, claims and a pod's claim volumes are read", "[model][volumes]") {
  json p = with_claim(pod("db", "pg-0", "n1", "100m", "128Mi"), "data", "data-pg-0");
  p["spec"]["volumes"].push_back({{"name", "scratch"}, {"ephemeral", {{"volumeClaimTemplate", json::object()}}}});
  const auto cluster = snapshot({p, pvc("db", "data-pg-0", "pvc-1"), pvc("db", "pending", ""),
                                 pv("pvc-1", "db", "data-pg-0", "kubernetes.io/hostname", {"n1"}),
                                 pv("nfs-1", "db", "shared")});
  REQUIRE(cluster.pods[0].claims.size() == 2);
  CHECK(cluster.pods[0].claims[0].volume == "data");
  CHECK(cluster.pods[0].claims[0].claim == "data-pg-0");
  CHECK(cluster.pods[0].claims[1].claim == "pg-0-scratch");
  CHECK(cluster.pods[0].local_volumes.empty());
  REQUIRE(cluster.persistent_volume_claims.size() == 2);
  CHECK(cluster.persistent_volume_claims[0].volume_name == "pvc-1");
  CHECK(cluster.persistent_volume_claims[1].volume_name.empty());
  REQUIRE(cluster.persistent_volumes.size() == 2);
  const auto& local = cluster.persistent_volumes[0];
  CHECK(local.claim_ns == "db");
  CHECK(local.claim_name == "data-pg-0");
  CHECK(local.source == "hostPath");
  REQUIRE(local.node_affinity.size() == 1);
  CHECK(local.node_affinity[0].match_expressions[0].values == std::vector<std::string>{"n1"});
  CHECK(cluster.persistent_volumes[1].node_affinity.empty());
  CHECK(cluster.persistent_volumes[1].source == "csi");
  CHECK(cluster.notes.empty());

  json bad = pv("x", "db", "c", "kubernetes.io/hostname", {"n1"});
  bad["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["operator"] = "Near";
  auto parsed = parse_persistent_volume(bad);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().message.rfind("PersistentVolume x: spec.nodeAffinity.required.nodeSelectorTerms[0]", 0) == 0);
}

TEST_CASE("a Node's NotReady time comes from its Ready condition", "[model][unready]") {
  CHECK_FALSE(snapshot({node("n1", "g")}).nodes[0].not_ready_since.has_value());
  const auto since = snapshot({unready(node("n1", "g"), "Unknown", "2026-11-22T09:00:00Z")}).nodes[0];
  CHECK_FALSE(since.ready);
  CHECK(since.not_ready_since == at("2026-11-22T09:00:00Z"));
  json no_time = node("n1", "g");
  no_time["status"]["conditions"] = {{{"type", "Ready"}, {"status", "False"}}};
  CHECK(snapshot({no_time}).nodes[0].not_ready_since == at(kLongAgo));  // creationTimestamp
}

TEST_CASE("scaleDown.unreadySeconds defaults to 20 minutes and is read", "[model][unready]") {
  json g = node_group("g", 0, 3);
  CHECK(parse_node_group(g)->scale_down.unready_seconds == 1200);
  g["spec"]["scaleDown"] = {{"unreadySeconds", 300}};
  CHECK(parse_node_group(g)->scale_down.unready_seconds == 300);
  g["spec"]["scaleDown"] = {{"unreadySeconds", -1}};
  CHECK_FALSE(parse_node_group(g).ok());
}

TEST_CASE("required pod anti-affinity terms are read", "[model][anti-affinity]") {
  json p = pod("db", "pg-0", "n1", "100m", "128Mi");
  p["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = {
      {{"labelSelector", {{"matchLabels", {{"app", "pg"}}}}}, {"topologyKey", "kubernetes.io/hostname"}},
      {{"labelSelector", {{"matchExpressions", {{{"key", "tier"}, {"operator", "Exists"}}}}}},
       {"namespaceSelector", json::object()},
       {"topologyKey", "topology.kubernetes.io/zone"}}};
  const auto parsed = parse_pod(p);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->required_anti_affinity.size() == 2);
  const auto& host = parsed->required_anti_affinity[0];
  CHECK(host.topology_key == "kubernetes.io/hostname");
  CHECK(host.selects("db", "db", {{"app", "pg"}}));
  CHECK_FALSE(host.selects("db", "other", {{"app", "pg"}}));  // own namespace only
  CHECK(parsed->required_anti_affinity[1].selects("db", "other", {{"tier", "x"}}));  // namespaceSelector: any

  p["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0].erase("topologyKey");
  CHECK(parse_pod(p).error().message.find("topologyKey: required") != std::string::npos);
}

TEST_CASE("NodeGroup values no VM can have are refused, naming the key", "[model]") {
  struct Row {
    const char* field;  // a JSON pointer into the object
    json value;
    const char* expected;
  };
  const std::vector<Row> rows{
      {"/spec/offerings/0/maxPods", -1, "NodeGroup general: spec.offerings[0].maxPods: must be ≥ 1, got -1"},
      {"/spec/offerings/0/maxPods", 0, "NodeGroup general: spec.offerings[0].maxPods: must be ≥ 1, got 0"},
      {"/spec/offerings/0/cpu", "0", "NodeGroup general: spec.offerings[0].cpu: must be > 0"},
      {"/spec/offerings/0/cpu", "-2", "NodeGroup general: spec.offerings[0].cpu: invalid quantity \"-2\": negative"},
      {"/spec/offerings/0/memory", "0Gi", "NodeGroup general: spec.offerings[0].memory: must be > 0"},
      {"/spec/offerings/0/monthlyPrice", -5, "NodeGroup general: spec.offerings[0].monthlyPrice: must be ≥ 0"},
      {"/spec/offerings/1", {{"id", "V92"}, {"cpu", "2"}, {"memory", "4Gi"}},
       "NodeGroup general: spec.offerings[1].id: duplicate offering \"V92\""},
      {"/spec/preferredOffering", "V99", "NodeGroup general: spec.preferredOffering: names no offering"},
      {"/spec/scaleUp", {{"podAgeSeconds", -1}}, "NodeGroup general: spec.scaleUp.podAgeSeconds: must be ≥ 0"},
      {"/spec/scaleUp", {{"backoffSeconds", -30}}, "NodeGroup general: spec.scaleUp.backoffSeconds: must be ≥ 0"},
      {"/spec/provisionTimeoutSeconds", 0, "NodeGroup general: spec.provisionTimeoutSeconds: must be ≥ 1"},
      {"/spec/scaleDown", {{"unneededSeconds", -600}}, "NodeGroup general: spec.scaleDown.unneededSeconds: must be ≥ 0"},
      {"/spec/scaleDown", {{"maxEmptyBulkDelete", -1}},
       "NodeGroup general: spec.scaleDown.maxEmptyBulkDelete: must be ≥ 0"},
  };
  for (const auto& row : rows) {
    json group = node_group("general", 0, 3);
    group[json::json_pointer(row.field)] = row.value;
    const auto parsed = parse_objects({group});
    INFO(row.field << " = " << row.value.dump());
    REQUIRE_FALSE(parsed.ok());
    INFO(parsed.error().message);
    CHECK(parsed.error().message.rfind(row.expected, 0) == 0);
  }
}

TEST_CASE("a NodeGroup's preferredOffering is read when it names an offering", "[model]") {
  json group = node_group("general", 0, 3);
  group["spec"]["preferredOffering"] = "V92";
  CHECK(snapshot({group}).node_groups[0].preferred_offering == "V92");
  CHECK(snapshot({node_group("general", 0, 3)}).node_groups[0].preferred_offering.empty());
}
