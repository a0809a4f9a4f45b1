// Golden plans: hand-written snapshots of a small cluster like the target platform (4 vCPU
// / 8Gi nodes, STT/TTS pods pending, a PDB-protected database) and the JSON plan expected
// for them at a fixed instant. To refresh after an intended change:
//   ballast plan --snapshot tests/fixtures/plan/X.json --now 2026-11-22T10:00:00Z --output json
//     > tests/fixtures/plan/X.expected.json   (and review the diff)
#include "nodepool/plan_report.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "unit/nodepool/cluster_builder.h"

using namespace ballast::nodepool;
using namespace ballast::nodepool::testing;

namespace {

json read_fixture(const std::string& name) {
  std::ifstream file(std::string(BALLAST_FIXTURES_DIR) + "/plan/" + name);
  REQUIRE(file.good());
  return json::parse(file);
}

}  // namespace

TEST_CASE("golden snapshots produce the expected JSON plans", "[golden]") {
  for (const char* name : {"small_cluster", "group_at_max", "scale_down_safety", "scheduling_rules"}) {
    INFO(name);
    auto cluster = parse_snapshot(read_fixture(std::string(name) + ".json"));
    REQUIRE(cluster.ok());
    const Plan plan = make_plan(*cluster, at(kNow));
    const json actual = plan_to_json(plan, *cluster);
    const json expected = read_fixture(std::string(name) + ".expected.json");
    INFO(json::diff(expected, actual).dump(2));
    CHECK(actual == expected);
  }
}

TEST_CASE("the small cluster plan adds an AI node and drains the idle general node", "[golden]") {
  auto cluster = parse_snapshot(read_fixture("small_cluster.json"));
  REQUIRE(cluster.ok());
  const Plan plan = make_plan(*cluster, at(kNow));
  CHECK(plan.scale_up.find("ai")->nodes_to_add() == 1);
  CHECK(plan.scale_up.find("general")->nodes_to_add() == 0);
  CHECK(plan.scale_down.find("general")->remove == std::vector<std::string>{"node-3"});
  const std::string table = plan_to_table(plan, *cluster);
  CHECK(table.find("ai: +1 V97") != std::string::npos);
  CHECK(table.find("pdb: pod databases/pg-0 is protected by PDB databases/pg") != std::string::npos);
  CHECK(table.find("move apps/web-1 -> node-1") != std::string::npos);
  CHECK(table.find("ai-services/whisper-large-0") != std::string::npos);
  CHECK(table.find("ignored Service kubernetes") != std::string::npos);
}

TEST_CASE("the JSON plan keeps its documented top-level shape", "[golden]") {
  const Plan plan = make_plan(snapshot({node_group("general", 0, 2)}), at(kNow));
  const json out = plan_to_json(plan, snapshot({node_group("general", 0, 2)}));
  for (const char* key : {"apiVersion", "kind", "now", "notes", "summary", "groups", "pending"}) {
    INFO(key);
    CHECK(out.contains(key));
  }
  CHECK(out["kind"] == "NodePoolPlan");
  CHECK(out["now"] == kNow);
  CHECK(out["groups"][0]["targetNodes"] == 0);
  CHECK(out["summary"]["nodesToAdd"] == 0);
}

TEST_CASE("quantities print in the units people write", "[report]") {
  CHECK(format_cpu(3900) == "3900m");
  CHECK(format_cpu(4000) == "4");
  CHECK(format_memory(8LL << 30) == "8Gi");
  CHECK(format_memory(7940LL << 20) == "7940Mi");
  CHECK(format_memory(1000) == "1000");
}

TEST_CASE("the scale-down safety plan keeps the local-path node, moves a zonal volume within its zone and deletes "
          "the dead node",
          "[golden]") {
  auto cluster = parse_snapshot(read_fixture("scale_down_safety.json"));
  REQUIRE(cluster.ok());
  const Plan plan = make_plan(*cluster, at(kNow));
  const auto* general = plan.scale_down.find("general");
  REQUIRE(general != nullptr);
  CHECK(general->remove == std::vector<std::string>{"node-3", "node-4"});
  const std::string table = plan_to_table(plan, *cluster);
  CHECK(table.find("node-bound-volume: pod databases/pg-0 uses volume data (PersistentVolume pvc-6f1c2a") !=
        std::string::npos);
  CHECK(table.find("move shop/cache-0 -> node-5") != std::string::npos);  // node-1 is in zone a
  CHECK(table.find("not Ready since 2026-11-22T09:00:00Z: delete") != std::string::npos);
  CHECK(table.find("node-not-ready: node is not Ready since 2026-11-22T09:55:00Z, removable at "
                   "2026-11-22T10:15:00Z (unreadySeconds 1200s)") != std::string::npos);
}

TEST_CASE("the scheduling-rules plan keeps replicas apart, follows volumes and keeps spread nodes", "[golden]") {
  auto cluster = parse_snapshot(read_fixture("scheduling_rules.json"));
  REQUIRE(cluster.ok());
  const Plan plan = make_plan(*cluster, at(kNow));
  // pg-1 must avoid zone a (pg-0 runs there): b-1, though a-2 has room first.
  REQUIRE(plan.scale_up.fits_existing.size() == 2);
  CHECK(plan.scale_up.fits_existing[0].pod.name == "pg-1");
  CHECK(plan.scale_up.fits_existing[0].node == "b-1");
  // web-0 must run in pg-0's zone.
  CHECK(plan.scale_up.fits_existing[1].node == "a-2");
  // data-0's PV is pinned to the full a-1: no new node can reach it.
  REQUIRE(plan.scale_up.unplaced.size() == 1);
  CHECK(plan.scale_up.unplaced[0].rejections[0].code == "volume-node-affinity");
  // big fits only the large offering (the preferred small one cannot hold it).
  CHECK(plan.scale_up.find("zone-a")->add[0].offering == "large");
}
