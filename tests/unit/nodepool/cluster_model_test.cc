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
