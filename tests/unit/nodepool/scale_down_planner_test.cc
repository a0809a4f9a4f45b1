#include "nodepool/scale_down_planner.h"

#include <catch2/catch.hpp>

#include "unit/nodepool/cluster_builder.h"

using namespace ballast::nodepool;
using namespace ballast::nodepool::testing;

namespace {

// Group `general` (min 1): node-1 and node-2 75 % busy, node-3 the candidate, unneeded
// since long ago per the NodeGroup status.
std::vector<json> cluster_with_candidate(const std::vector<json>& on_candidate, int min_nodes = 1) {
  json group = node_group("general", min_nodes, 6);
  group["status"] = {{"nodes", {{{"name", "node-3"}, {"unneededSince", kLongAgo}}}}};
  std::vector<json> objects{group, node("node-1", "general"), node("node-2", "general"), node("node-3", "general"),
                            pod("apps", "busy-1", "node-1", "3", "2Gi"), pod("apps", "busy-2", "node-2", "3", "2Gi")};
  for (const auto& o : on_candidate) objects.push_back(o);
  return objects;
}

const NodeScaleDown& node_plan(const ScaleDownPlan& plan, const std::string& name) {
  for (const auto& g : plan.groups) {
    for (const auto& n : g.nodes) {
      if (n.node == name) return n;
    }
  }
  throw std::runtime_error("no node " + name);
}

std::vector<std::string> codes(const NodeScaleDown& n) {
  std::vector<std::string> out;
  for (const auto& b : n.blockers) out.push_back(block_code(b.reason));
  return out;
}

}  // namespace

TEST_CASE("an empty node unneeded long enough is removed", "[scale-down]") {
  const auto plan = plan_scale_down(snapshot(cluster_with_candidate({})), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kRemove);
  CHECK(n3.empty);
  CHECK(plan.find("general")->remove == std::vector<std::string>{"node-3"});
  CHECK(node_plan(plan, "node-1").state == NodeState::kNeeded);
  CHECK(node_plan(plan, "node-1").utilization == Approx(0.75));
}

TEST_CASE("with no unneeded history a node waits the whole unneeded time from now", "[scale-down]") {
  auto objects = cluster_with_candidate({});
  objects[0].erase("status");
  const auto plan = plan_scale_down(snapshot(objects), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kUnneeded);
  CHECK(codes(n3) == std::vector<std::string>{"unneeded-too-short"});
  CHECK(n3.unneeded_since == at(kNow));
  CHECK(plan.find("general")->remove.empty());
}

TEST_CASE("a lightly used node is drained when its pods fit elsewhere, and says where they go", "[scale-down]") {
  const auto plan = plan_scale_down(
      snapshot(cluster_with_candidate({pod("apps", "web", "node-3", "500m", "1Gi"), pod("apps", "api", "node-3", "500m", "1Gi")})),
      at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kRemove);
  REQUIRE(n3.moves.size() == 2);
  CHECK(n3.moves[0].to == "node-1");
  CHECK(n3.moves[1].to == "node-1");  // first fit: node-1 has a core free
}

TEST_CASE("pods that fit no remaining node block the removal, naming the pod", "[scale-down]") {
  const auto plan =
      plan_scale_down(snapshot(cluster_with_candidate({pod("apps", "big", "node-3", "1500m", "1Gi")})), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kBlocked);
  REQUIRE(n3.blockers.size() == 1);
  CHECK(n3.blockers[0].reason == BlockReason::kNoPlaceToMove);
  CHECK(n3.blockers[0].pod == "apps/big");
  CHECK_FALSE(n3.unneeded_since.has_value());
}

TEST_CASE("pods and nodes that block removal each give a reason naming the culprit", "[scale-down]") {
  struct Row {
    const char* name;
    std::vector<json> extra;
    std::function<void(json& pod, json& node)> edit;
    std::vector<std::string> expected;
  };
  const std::vector<Row> rows = {
      {"PDB allowing no disruption", {pdb("apps", "web-pdb", {{"app", "web"}}, 0)}, [](json&, json&) {}, {"pdb"}},
      {"PDB allowing one disruption", {pdb("apps", "web-pdb", {{"app", "web"}}, 1)}, [](json&, json&) {}, {}},
      {"bare pod", {}, [](json& p, json&) { p["metadata"].erase("ownerReferences"); }, {"bare-pod"}},
      {"bare pod marked safe to evict",
       {},
       [](json& p, json&) {
         p["metadata"].erase("ownerReferences");
         p["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/safe-to-evict", "true"}};
       },
       {}},
      {"emptyDir on disk", {}, [](json& p, json&) { p["spec"]["volumes"] = {{{"name", "tmp"}, {"emptyDir", json::object()}}}; },
       {"local-storage"}},
      {"emptyDir in memory",
       {},
       [](json& p, json&) { p["spec"]["volumes"] = {{{"name", "tmp"}, {"emptyDir", {{"medium", "Memory"}}}}}; },
       {}},
      {"hostPath listed as safe",
       {},
       [](json& p, json&) {
         p["spec"]["volumes"] = {{{"name", "logs"}, {"hostPath", {{"path", "/var/log"}}}}};
         p["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes", "logs"}};
       },
       {}},
      {"kube-system pod without PDB", {}, [](json& p, json&) { p["metadata"]["namespace"] = "kube-system"; },
       {"kube-system-no-pdb"}},
      {"kube-system pod with a PDB",
       {pdb("kube-system", "web", {{"app", "web"}}, 1)},
       [](json& p, json&) { p["metadata"]["namespace"] = "kube-system"; },
       {}},
      {"safe-to-evict false",
       {},
       [](json& p, json&) { p["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/safe-to-evict", "false"}}; },
       {"safe-to-evict-false"}},
      {"pod do-not-disrupt",
       {},
       [](json& p, json&) { p["metadata"]["annotations"] = {{"karpenter.sh/do-not-disrupt", "true"}}; },
       {"pod-do-not-disrupt"}},
      {"node scale-down-disabled",
       {},
       [](json&, json& n) { n["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/scale-down-disabled", "true"}}; },
       {"node-scale-down-disabled"}},
      {"node do-not-disrupt",
       {},
       [](json&, json& n) { n["metadata"]["annotations"] = {{"karpenter.sh/do-not-disrupt", "true"}}; },
       {"node-do-not-disrupt"}},
      {"DaemonSet pod neither blocks nor moves",
       {},
       [](json& p, json&) {
         p["metadata"]["ownerReferences"][0]["kind"] = "DaemonSet";
         p["metadata"]["namespace"] = "kube-system";
       },
       {}},
      {"mirror pod neither blocks nor moves",
       {},
       [](json& p, json&) {
         p["metadata"].erase("ownerReferences");
         p["metadata"]["annotations"] = {{"kubernetes.io/config.mirror", "x"}};
       },
       {}},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    json p = pod("apps", "web", "node-3", "200m", "256Mi");
    auto objects = cluster_with_candidate({});
    row.edit(p, objects[3]);
    objects.push_back(p);
    for (const auto& e : row.extra) objects.push_back(e);
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    const auto& n3 = node_plan(plan, "node-3");
    CHECK(codes(n3) == row.expected);
    CHECK((n3.state == NodeState::kRemove) == row.expected.empty());
    if (!n3.blockers.empty() && std::string(row.name).find("node") == std::string::npos) {
      CHECK(n3.blockers[0].pod == (p["metadata"]["namespace"].get<std::string>() + "/web"));
      CHECK(n3.blockers[0].message.find("web") != std::string::npos);
    }
  }
}

TEST_CASE("a PDB is named when two of its pods sit on the node and it allows one", "[scale-down]") {
  json a = pod("db", "pg-0", "node-3", "100m", "128Mi");
  json b = pod("db", "pg-1", "node-3", "100m", "128Mi");
  a["metadata"]["labels"] = b["metadata"]["labels"] = {{"app", "pg"}};
  const auto plan = plan_scale_down(snapshot(cluster_with_candidate({a, b, pdb("db", "pg", {{"app", "pg"}}, 1)})), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kBlocked);
  REQUIRE(n3.blockers.size() == 2);
  CHECK(n3.blockers[0].pdb == "db/pg");
}

TEST_CASE("group gates stop removals with a reason", "[scale-down]") {
  struct Row {
    const char* name;
    std::function<void(json& group)> edit;
    std::string code;
  };
  const std::vector<Row> rows = {
      {"disabled", [](json& g) { g["spec"]["scaleDown"] = {{"enabled", false}}; }, "scale-down-disabled"},
      {"recent scale-up", [](json& g) { g["status"]["lastScaleUp"] = {{"time", "2026-11-22T09:55:00Z"}}; },
       "delay-after-add"},
      {"recent failure",
       [](json& g) { g["status"]["lastScaleDownFailure"] = {{"time", "2026-11-22T09:58:00Z"}}; },
       "delay-after-failure"},
      {"min nodes", [](json& g) { g["spec"]["minNodes"] = 3; }, "min-nodes"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    auto objects = cluster_with_candidate({});
    row.edit(objects[0]);
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    const auto& n3 = node_plan(plan, "node-3");
    CHECK(n3.state == NodeState::kUnneeded);
    CHECK(codes(n3) == std::vector<std::string>{row.code});
    CHECK(plan.find("general")->remove.empty());
    REQUIRE_FALSE(plan.find("general")->group_blockers.empty());
  }
  // Old enough events no longer gate.
  auto objects = cluster_with_candidate({});
  objects[0]["status"]["lastScaleUp"] = {{"time", "2026-11-22T09:49:00Z"}};
  objects[0]["status"]["lastScaleDownFailure"] = {{"time", "2026-11-22T09:56:00Z"}};
  CHECK(plan_scale_down(snapshot(objects), at(kNow)).find("general")->remove.size() == 1);
  // A scale-up planned in the same pass gates too.
  ScaleDownOptions options;
  options.groups_scaling_up = {"general"};
  CHECK(plan_scale_down(snapshot(cluster_with_candidate({})), at(kNow), options).find("general")->remove.empty());
}

TEST_CASE("empty nodes go in bulk up to maxEmptyBulkDelete, never below minNodes", "[scale-down]") {
  struct Row {
    int min_nodes;
    int bulk;
    size_t removed;
  };
  for (const Row& row : {Row{1, 10, 4}, Row{3, 10, 2}, Row{1, 2, 2}}) {
    json group = node_group("general", row.min_nodes, 9);
    group["spec"]["scaleDown"] = {{"maxEmptyBulkDelete", row.bulk}};
    json status_nodes = json::array();
    std::vector<json> objects;
    for (int i = 1; i <= 5; ++i) {
      const std::string name = "e-" + std::to_string(i);
      objects.push_back(node(name, "general"));
      status_nodes.push_back({{"name", name}, {"unneededSince", kLongAgo}});
    }
    group["status"] = {{"nodes", status_nodes}};
    objects.push_back(group);
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    INFO(row.min_nodes << " " << row.bulk);
    CHECK(plan.find("general")->remove.size() == row.removed);
  }
}

TEST_CASE("only one non-empty node is drained per pass", "[scale-down]") {
  json group = node_group("general", 0, 9);
  group["status"] = {{"nodes", {{{"name", "a"}, {"unneededSince", kLongAgo}}, {{"name", "b"}, {"unneededSince", kLongAgo}}}}};
  const auto plan = plan_scale_down(snapshot({group, node("a", "general"), node("b", "general"), node("c", "general", "8", "16Gi"),
                                              pod("x", "pa", "a", "1", "1Gi"), pod("x", "pb", "b", "1500m", "1Gi"),
                                              pod("x", "pc", "c", "4", "1Gi")}),
                                    at(kNow));
  CHECK(node_plan(plan, "a").state == NodeState::kRemove);
  CHECK(node_plan(plan, "b").state == NodeState::kUnneeded);
  CHECK(codes(node_plan(plan, "b")) == std::vector<std::string>{"non-empty-limit"});
  CHECK(node_plan(plan, "a").moves[0].to == "c");
}

TEST_CASE("room that pending pods will take is not offered to a drain", "[scale-down]") {
  auto objects = cluster_with_candidate({pod("apps", "web", "node-3", "800m", "1Gi")});
  objects.push_back(pending_pod("apps", "new-1", "1", "1Gi"));
  objects.push_back(pending_pod("apps", "new-2", "1", "1Gi"));
  const auto cluster = snapshot(objects);
  const auto up = plan_scale_up(cluster, at(kNow));
  REQUIRE(up.fits_existing.size() == 2);
  ScaleDownOptions options;
  options.pending_placements = up.fits_existing;
  const auto plan = plan_scale_down(cluster, at(kNow), options);
  // node-1 and node-2 are full with the pending pods; node-3 keeps "web" (and got no pending pod).
  CHECK(codes(node_plan(plan, "node-3")) == std::vector<std::string>{"no-place-to-move"});
  CHECK(plan_scale_down(cluster, at(kNow)).find("general")->remove.size() == 1);
}
