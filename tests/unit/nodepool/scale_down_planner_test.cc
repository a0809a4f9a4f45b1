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
      {"two PDBs selecting the pod, each allowing a disruption (the Eviction API answers 500)",
       {pdb("apps", "web-pdb", {{"app", "web"}}, 1), pdb("apps", "all-pdb", json::object(), 1)},
       [](json&, json&) {},
       {"pdb"}},
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

TEST_CASE("two pods of a PDB allowing one disruption leave the node removable: the drain evicts them in turn",
          "[scale-down]") {
  json a = pod("db", "pg-0", "node-3", "100m", "128Mi");
  json b = pod("db", "pg-1", "node-3", "100m", "128Mi");
  a["metadata"]["labels"] = b["metadata"]["labels"] = {{"app", "pg"}};
  const auto plan = plan_scale_down(snapshot(cluster_with_candidate({a, b, pdb("db", "pg", {{"app", "pg"}}, 1)})), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kRemove);
  CHECK(n3.blockers.empty());
}

TEST_CASE("every pod of a PDB allowing no disruption is named on the node it blocks", "[scale-down]") {
  json a = pod("db", "pg-0", "node-3", "100m", "128Mi");
  json b = pod("db", "pg-1", "node-3", "100m", "128Mi");
  a["metadata"]["labels"] = b["metadata"]["labels"] = {{"app", "pg"}};
  const auto plan = plan_scale_down(snapshot(cluster_with_candidate({a, b, pdb("db", "pg", {{"app", "pg"}}, 0)})), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(n3.state == NodeState::kBlocked);
  REQUIRE(n3.blockers.size() == 2);
  CHECK(n3.blockers[0].pdb == "db/pg");
  CHECK(n3.blockers[1].pod == "db/pg-1");
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
                                              pod("x", "pc", "c", "5", "1Gi")}),
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

TEST_CASE("a pod's PersistentVolumes decide whether and where it can move", "[scale-down][volumes]") {
  struct Row {
    const char* name;
    std::function<void(json& pod)> edit_pod;
    std::vector<json> extra;
    std::vector<std::string> expected;  // blocker codes; empty = node-3 removed
    std::string moved_to = "node-1";    // where apps/web goes when removed
  };
  const std::vector<Row> rows = {
      {"local-path PV bound to the node",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pvc("apps", "data-web", "pvc-1"), pv("pvc-1", "apps", "data-web", "kubernetes.io/hostname", {"node-3"})},
       {"node-bound-volume"}},
      {"node-bound PV and safe-to-evict true: still cannot move",
       [](json& p) {
         p = with_claim(p, "data", "data-web");
         p["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/safe-to-evict", "true"}};
       },
       {pvc("apps", "data-web", "pvc-1"), pv("pvc-1", "apps", "data-web", "kubernetes.io/hostname", {"node-3"})},
       {"node-bound-volume"}},
      {"network PV without node affinity moves anywhere",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pvc("apps", "data-web", "pvc-1"), pv("pvc-1", "apps", "data-web")},
       {}},
      {"zonal PV moves only to a node of its zone",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pvc("apps", "data-web", "pvc-1"), pv("pvc-1", "apps", "data-web", "topology.kubernetes.io/zone", {"b"})},
       {},
       "node-2"},
      {"PV whose zone holds no other node",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pvc("apps", "data-web", "pvc-1"), pv("pvc-1", "apps", "data-web", "topology.kubernetes.io/zone", {"c"})},
       {"node-bound-volume"}},
      {"claim not bound yet constrains nothing",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pvc("apps", "data-web", "")},
       {}},
      {"claim missing from the snapshot",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {},
       {"unknown-volume"}},
      {"claim bound to a PV missing from the snapshot",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pvc("apps", "data-web", "pvc-1")},
       {"unknown-volume"}},
      {"PV found through its claimRef when the claim is not listed",
       [](json& p) { p = with_claim(p, "data", "data-web"); },
       {pv("pvc-1", "apps", "data-web", "kubernetes.io/hostname", {"node-3"})},
       {"node-bound-volume"}},
      {"generic ephemeral volume on a node-bound PV",
       [](json& p) { p["spec"]["volumes"] = {{{"name", "scratch"}, {"ephemeral", {{"volumeClaimTemplate", json::object()}}}}}; },
       {pvc("apps", "web-scratch", "pvc-2"), pv("pvc-2", "apps", "web-scratch", "kubernetes.io/hostname", {"node-3"})},
       {"node-bound-volume"}},
      {"inline hostPath volume is local storage, as in cluster-autoscaler",
       [](json& p) { p["spec"]["volumes"] = {{{"name", "logs"}, {"hostPath", {{"path", "/var/log"}}}}}; },
       {},
       {"local-storage"}},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    auto objects = cluster_with_candidate({});
    objects[1]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "a";
    objects[2]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "b";
    objects[3]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "c";
    json p = pod("apps", "web", "node-3", "200m", "256Mi");
    row.edit_pod(p);
    objects.push_back(p);
    for (const auto& e : row.extra) objects.push_back(e);
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    const auto& n3 = node_plan(plan, "node-3");
    CHECK(codes(n3) == row.expected);
    if (row.expected.empty()) {
      CHECK(n3.state == NodeState::kRemove);
      REQUIRE(n3.moves.size() == 1);
      CHECK(n3.moves[0].to == row.moved_to);
    } else {
      CHECK(n3.state == NodeState::kBlocked);
      CHECK(n3.blockers[0].pod == "apps/web");
      CHECK(n3.blockers[0].message.find("pod apps/web uses ") == 0);
      CHECK(n3.blockers[0].message.find("volume ") != std::string::npos);
    }
  }
}

TEST_CASE("a node-bound volume is named in the reason", "[scale-down][volumes]") {
  const auto plan = plan_scale_down(
      snapshot(cluster_with_candidate({with_claim(pod("db", "pg-1", "node-3", "200m", "256Mi"), "data", "data-pg-1"),
                                       pvc("db", "data-pg-1", "pvc-9"),
                                       pv("pvc-9", "db", "data-pg-1", "kubernetes.io/hostname", {"node-3"})})),
      at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  REQUIRE(n3.blockers.size() == 1);
  CHECK(n3.blockers[0].message ==
        "pod db/pg-1 uses volume data (PersistentVolume pvc-9, hostPath) that only node node-3 can reach: the pod "
        "cannot move");
}

TEST_CASE("a pod whose volume's zone has no room left cannot move", "[scale-down][volumes]") {
  auto objects = cluster_with_candidate({with_claim(pod("apps", "web", "node-3", "1", "256Mi"), "data", "d"),
                                         pvc("apps", "d", "pv-d"), pv("pv-d", "apps", "d", "zone", {"a"}),
                                         pod("apps", "more", "node-1", "500m", "256Mi")});
  objects[1]["metadata"]["labels"]["zone"] = "a";
  const auto plan = plan_scale_down(snapshot(objects), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  CHECK(codes(n3) == std::vector<std::string>{"no-place-to-move"});
  // Without the volume it would fit node-2.
  objects[6]["spec"].erase("volumes");
  CHECK(node_plan(plan_scale_down(snapshot(objects), at(kNow)), "node-3").state == NodeState::kRemove);
}

TEST_CASE("a node at exactly the utilization threshold is underutilized; 0 removes only empty nodes",
          "[scale-down][threshold]") {
  struct Row {
    const char* name;
    double threshold;
    std::vector<json> on_node;
    NodeState expected;
  };
  json ds = pod("kube-system", "svclb", "node-3", "100m", "64Mi");
  ds["metadata"]["ownerReferences"][0]["kind"] = "DaemonSet";
  const std::vector<Row> rows = {
      {"at the threshold", 0.25, {pod("apps", "web", "node-3", "1", "256Mi")}, NodeState::kRemove},
      {"just above it", 0.25, {pod("apps", "web", "node-3", "1001m", "256Mi")}, NodeState::kNeeded},
      {"threshold 0, only a DaemonSet pod", 0, {ds}, NodeState::kRemove},
      {"threshold 0, no pod at all", 0, {}, NodeState::kRemove},
      {"threshold 0, a small pod", 0, {pod("apps", "web", "node-3", "10m", "16Mi")}, NodeState::kNeeded},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    auto objects = cluster_with_candidate(row.on_node);
    objects[0]["spec"]["scaleDown"] = {{"utilizationThreshold", row.threshold}};
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    CHECK(node_plan(plan, "node-3").state == row.expected);
  }
}

TEST_CASE("a node NotReady for unreadySeconds is removed without a drain; Ready again it is kept",
          "[scale-down][unready]") {
  struct Row {
    const char* name;
    std::function<void(std::vector<json>& objects)> edit;  // objects[0] group, [3] node-3
    std::vector<std::string> expected;                     // blocker codes; empty = removed as unready
  };
  const auto heavy = [](std::vector<json>& o) { o.push_back(pod("apps", "big", "node-3", "3500m", "6Gi")); };
  const std::vector<Row> rows = {
      {"NotReady for 2h, full of pods that fit nowhere", [&](auto& o) { o[3] = unready(o[3]); heavy(o); }, {}},
      {"Unknown (kubelet gone) for 2h", [](auto& o) { o[3] = unready(o[3], "Unknown"); }, {}},
      {"NotReady without a transition time: since creation",
       [](auto& o) { o[3]["status"]["conditions"] = {{{"type", "Ready"}, {"status", "False"}}}; },
       {}},
      {"NotReady for 10 minutes", [](auto& o) { o[3] = unready(o[3], "False", "2026-11-22T09:50:00Z"); },
       {"node-not-ready"}},
      {"unreadySeconds 3h", [](auto& o) {
         o[3] = unready(o[3]);
         o[0]["spec"]["scaleDown"] = {{"unreadySeconds", 3 * 3600}};
       },
       {"node-not-ready"}},
      {"a PDB allowing nothing does not keep a dead node", [](auto& o) {
         o[3] = unready(o[3]);
         o.push_back(pod("apps", "web", "node-3", "200m", "256Mi"));
         o.push_back(pdb("apps", "web", {{"app", "web"}}, 0));
       },
       {}},
      {"a terminating pod holding a node-bound volume keeps it (deleting the VM loses the data)", [](auto& o) {
         o[3] = unready(o[3]);
         json p = with_claim(pod("db", "pg-0", "node-3", "200m", "256Mi"), "data", "data-pg-0");
         p["metadata"]["deletionTimestamp"] = "2026-11-22T08:05:00Z";
         o.push_back(p);
         o.push_back(pvc("db", "data-pg-0", "pvc-1"));
         o.push_back(pv("pvc-1", "db", "data-pg-0", "kubernetes.io/hostname", {"node-3"}));
       },
       {"node-bound-volume"}},
      {"a pod that opted out", [](auto& o) {
         o[3] = unready(o[3]);
         json p = pod("apps", "web", "node-3", "200m", "256Mi");
         p["metadata"]["annotations"] = {{"karpenter.sh/do-not-disrupt", "true"}};
         o.push_back(p);
       },
       {"pod-do-not-disrupt"}},
      {"node scale-down-disabled", [](auto& o) {
         o[3] = unready(o[3]);
         o[3]["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/scale-down-disabled", "true"}};
       },
       {"node-scale-down-disabled"}},
      {"never below minNodes", [](auto& o) {
         o[3] = unready(o[3]);
         o[0]["spec"]["minNodes"] = 3;
       },
       {"min-nodes"}},
      {"scale-down disabled for the group", [](auto& o) {
         o[3] = unready(o[3]);
         o[0]["spec"]["scaleDown"] = {{"enabled", false}};
       },
       {"scale-down-disabled"}},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    auto objects = cluster_with_candidate({});
    row.edit(objects);
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    const auto& n3 = node_plan(plan, "node-3");
    CHECK(codes(n3) == row.expected);
    CHECK(n3.not_ready_since.has_value());
    CHECK(n3.moves.empty());
    CHECK(n3.state == (row.expected.empty() ? NodeState::kRemove : row.expected[0] == "min-nodes" ||
                                                                          row.expected[0] == "scale-down-disabled"
                                                                       ? NodeState::kUnneeded
                                                                       : NodeState::kBlocked));
    CHECK((plan.find("general")->remove == std::vector<std::string>{"node-3"}) == row.expected.empty());
  }
  // Ready again: an ordinary node, kept while it is busy.
  auto objects = cluster_with_candidate({pod("apps", "big", "node-3", "3500m", "6Gi")});
  const auto plan = plan_scale_down(snapshot(objects), at(kNow));
  CHECK(node_plan(plan, "node-3").state == NodeState::kNeeded);
  CHECK_FALSE(node_plan(plan, "node-3").not_ready_since.has_value());
}

TEST_CASE("an unready node takes precedence over a non-empty drain and does not count as one",
          "[scale-down][unready]") {
  json group = node_group("general", 0, 9);
  group["status"] = {{"nodes", {{{"name", "a"}, {"unneededSince", kLongAgo}}}}};
  const auto plan = plan_scale_down(snapshot({group, node("a", "general"), unready(node("dead", "general")),
                                              node("c", "general", "8", "16Gi"), pod("x", "pa", "a", "1", "1Gi"),
                                              pod("x", "pc", "c", "5", "1Gi")}),
                                    at(kNow));
  CHECK(plan.find("general")->remove == std::vector<std::string>{"a", "dead"});
}

TEST_CASE("with more than 3 nodes and 45 % of the cluster unready no unready node is removed",
          "[scale-down][unready]") {
  for (const int dead : {3, 4}) {
    INFO(dead << " of 6 unready");
    json group = node_group("general", 0, 9);
    std::vector<json> objects{group};
    for (int i = 0; i < 6; ++i) {
      json n = node("n" + std::to_string(i), "general");
      objects.push_back(i < dead ? unready(n) : n);
      objects.push_back(pod("x", "p" + std::to_string(i), "n" + std::to_string(i), "3", "1Gi"));
    }
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    if (dead == 3) {
      CHECK(plan.find("general")->remove.size() == 3);
    } else {
      CHECK(plan.find("general")->remove.empty());
      CHECK(codes(node_plan(plan, "n0")) == std::vector<std::string>{"too-many-unready"});
    }
  }
}

namespace {

// `pod` must not share a `topology_key` domain with pods labelled app=`app`.
json avoiding(json pod, const std::string& app, const std::string& topology_key = "kubernetes.io/hostname",
              const json& namespaces = nullptr) {
  json term{{"labelSelector", {{"matchLabels", {{"app", app}}}}}, {"topologyKey", topology_key}};
  if (!namespaces.is_null()) term["namespaces"] = namespaces;
  pod["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json::array({term});
  return pod;
}

json labelled(json pod, const std::string& app) {
  pod["metadata"]["labels"] = {{"app", app}};
  return pod;
}

}  // namespace

TEST_CASE("an evicted pod does not move onto a node running a pod it must avoid, or that must avoid it",
          "[scale-down][anti-affinity]") {
  // node-1 and node-2 each have a core free; node-3 is the candidate.
  const json replica = avoiding(labelled(pod("db", "pg-1", "node-3", "200m", "256Mi"), "pg"), "pg");
  struct Row {
    const char* name;
    std::vector<json> objects;
    std::string moved_to;  // empty: blocked with no-place-to-move naming pod-anti-affinity
    std::function<void(std::vector<json>&)> edit = [](std::vector<json>&) {};
  };
  const std::vector<Row> rows = {
      {"no other replica: first fit", {replica}, "node-1"},
      {"a replica on node-1: the PostgreSQL replica goes to node-2",
       {replica, avoiding(labelled(pod("db", "pg-0", "node-1", "100m", "128Mi"), "pg"), "pg")},
       "node-2"},
      {"replicas on both other nodes: it cannot move",
       {replica, avoiding(labelled(pod("db", "pg-0", "node-1", "100m", "128Mi"), "pg"), "pg"),
        avoiding(labelled(pod("db", "pg-2", "node-2", "100m", "128Mi"), "pg"), "pg")},
       ""},
      {"symmetric: a pod on node-1 avoids the moving pod's label",
       {labelled(pod("db", "pg-1", "node-3", "200m", "256Mi"), "pg"),
        avoiding(labelled(pod("db", "solo", "node-1", "100m", "128Mi"), "solo"), "pg")},
       "node-2"},
      {"a term for other namespaces does not apply",
       {avoiding(labelled(pod("db", "pg-1", "node-3", "200m", "256Mi"), "pg"), "pg", "kubernetes.io/hostname",
                 json::array({"elsewhere"})),
        labelled(pod("db", "pg-0", "node-1", "100m", "128Mi"), "pg")},
       "node-1"},
      {"zone topology: every other node shares the zone of a replica",
       {avoiding(labelled(pod("db", "pg-1", "node-3", "200m", "256Mi"), "pg"), "pg", "topology.kubernetes.io/zone"),
        labelled(pod("db", "pg-0", "node-1", "100m", "128Mi"), "pg")},
       "",
       [](std::vector<json>& o) {
         o[1]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "a";
         o[2]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "a";
         o[3]["metadata"]["labels"]["topology.kubernetes.io/zone"] = "b";
       }},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    auto objects = cluster_with_candidate(row.objects);
    row.edit(objects);
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    const auto& n3 = node_plan(plan, "node-3");
    if (row.moved_to.empty()) {
      CHECK(codes(n3) == std::vector<std::string>{"no-place-to-move"});
      CHECK(n3.blockers[0].pod == "db/pg-1");
      CHECK(n3.blockers[0].message.find("pod-anti-affinity") != std::string::npos);
    } else {
      CHECK(n3.state == NodeState::kRemove);
      REQUIRE(n3.moves.size() == 1);
      CHECK(n3.moves[0].to == row.moved_to);
    }
  }
}

TEST_CASE("a pod moved in simulation counts for the anti-affinity of later candidates", "[scale-down][anti-affinity]") {
  // Two idle nodes each run a replica; big has room for one. Only one of them can go.
  json group = node_group("general", 0, 9);
  group["status"] = {{"nodes", {{{"name", "a"}, {"unneededSince", kLongAgo}}, {{"name", "b"}, {"unneededSince", kLongAgo}}}}};
  std::vector<json> objects{group, node("a", "general"), node("b", "general"), node("big", "general", "8", "16Gi"),
                            pod("x", "filler", "big", "5", "1Gi")};
  for (const char* n : {"a", "b"}) {
    objects.push_back(avoiding(labelled(pod("db", std::string("pg-") + n, n, "500m", "1Gi"), "pg"), "pg"));
  }
  const auto plan = plan_scale_down(snapshot(objects), at(kNow));
  CHECK(node_plan(plan, "a").state == NodeState::kRemove);
  CHECK(node_plan(plan, "a").moves[0].to == "big");
  CHECK(codes(node_plan(plan, "b")) == std::vector<std::string>{"no-place-to-move"});
}

TEST_CASE("evicted pods go only where required pod affinity and DoNotSchedule spread let them",
          "[scale-down][affinity][spread]") {
  // node-1 and node-2 each have a core free; node-3 is the candidate; nodes carry zones
  // node-1: a, node-2: b, node-3: b.
  const std::string zone = "topology.kubernetes.io/zone";
  struct Row {
    const char* name;
    std::vector<json> objects;
    std::string moved_to;  // empty: blocked with no-place-to-move naming `code`
    const char* code = "";
  };
  const std::vector<Row> rows = {
      {"affinity to a cache in zone a: node-1",
       {with_pod_affinity(labelled(pod("db", "web-0", "node-3", "200m", "256Mi"), "web"), "podAffinity", "cache", zone),
        labelled(pod("db", "cache-0", "node-1", "100m", "128Mi"), "cache")},
       "node-1"},
      {"affinity to a cache on the candidate itself: the cache leaves too, nothing selected remains",
       {with_pod_affinity(labelled(pod("db", "web-0", "node-3", "200m", "256Mi"), "web"), "podAffinity", "cache"),
        labelled(pod("db", "cache-0", "node-3", "100m", "128Mi"), "cache")},
       "", "pod-affinity"},
      {"hostname spread: node-1 already holds one, so node-2",
       {with_spread(labelled(pod("db", "w-2", "node-3", "200m", "256Mi"), "w"), "w"),
        labelled(pod("db", "w-0", "node-1", "100m", "128Mi"), "w")},
       "node-2"},
      {"zone spread: zone a holds one and b none once node-3 is gone, so b",
       {with_spread(labelled(pod("db", "w-2", "node-3", "200m", "256Mi"), "w"), "w", zone),
        labelled(pod("db", "w-0", "node-1", "100m", "128Mi"), "w")},
       "node-2"},
      {"zone spread: zone a holds two and b one, so b",
       {with_spread(labelled(pod("db", "w-2", "node-3", "200m", "256Mi"), "w"), "w", zone),
        labelled(pod("db", "w-0", "node-1", "100m", "128Mi"), "w"), labelled(pod("db", "w-1", "node-1", "100m", "128Mi"), "w"),
        labelled(pod("db", "w-3", "node-2", "100m", "128Mi"), "w")},
       "node-2"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    auto objects = cluster_with_candidate(row.objects);
    objects[1]["metadata"]["labels"][zone] = "a";
    objects[2]["metadata"]["labels"][zone] = "b";
    objects[3]["metadata"]["labels"][zone] = "b";
    const auto plan = plan_scale_down(snapshot(objects), at(kNow));
    const auto& n3 = node_plan(plan, "node-3");
    if (row.moved_to.empty()) {
      REQUIRE(codes(n3) == std::vector<std::string>{"no-place-to-move"});
      CHECK(n3.blockers[0].message.find(row.code) != std::string::npos);
    } else {
      CHECK(n3.state == NodeState::kRemove);
      REQUIRE_FALSE(n3.moves.empty());
      CHECK(n3.moves[0].to == row.moved_to);
    }
  }
}

TEST_CASE("hostname spread keeps a node whose replica would crowd the others", "[scale-down][spread]") {
  // w-0 on node-1, w-1 on node-3 (candidate), node-2 runs no replica but is full: moving
  // w-1 to node-1 makes 2 there and 0 on node-2 (skew 2 > 1).
  json group = node_group("general", 0, 6);
  group["status"] = {{"nodes", {{{"name", "node-3"}, {"unneededSince", kLongAgo}}}}};
  const std::vector<json> objects{group, node("node-1", "general"), node("node-2", "general"), node("node-3", "general"),
                                  pod("apps", "full", "node-2", "3900m", "1Gi"),
                                  with_spread(labelled(pod("db", "w-0", "node-1", "200m", "256Mi"), "w"), "w"),
                                  with_spread(labelled(pod("db", "w-1", "node-3", "200m", "256Mi"), "w"), "w")};
  const auto plan = plan_scale_down(snapshot(objects), at(kNow));
  const auto& n3 = node_plan(plan, "node-3");
  REQUIRE(codes(n3) == std::vector<std::string>{"no-place-to-move"});
  CHECK(n3.blockers[0].message.find("topology-spread") != std::string::npos);
}
