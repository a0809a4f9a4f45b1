// plan_actuation() with requests (Alertmanager alerts) and pressure: one node more or
// fewer through the group's limits, decided with time passed in.
#include "nodepool/actuation_plan.h"

#include <catch2/catch.hpp>

#include "cluster_builder.h"

using namespace ballast::nodepool;
using namespace ballast::nodepool::testing;

namespace {

// The plan's node-changing actions and Events, one line each.
std::vector<std::string> describe(const ActuationPlan& plan) {
  std::vector<std::string> out;
  for (const auto& planned : plan.actions) {
    if (const auto* up = std::get_if<action::ScaleUp>(&planned)) {
      out.push_back("scale-up " + up->group + " x" + std::to_string(up->count) + " desired " +
                    std::to_string(up->desired) + ": " + up->reason);
    } else if (const auto* drain = std::get_if<action::StartDrain>(&planned)) {
      out.push_back("drain " + drain->node);
    } else if (const auto* event = std::get_if<action::Report>(&planned)) {
      if (event->reason == "ScaleDownBlocked") continue;  // scale-down's own reports
      out.push_back("event " + event->reason + ": " + event->message);
    }
  }
  return out;
}

json group(const json& status, const json& scale_up = json::object(), int min_nodes = 1, int max_nodes = 3) {
  json g = node_group("general", min_nodes, max_nodes);
  g["status"] = status;
  g["spec"]["scaleUp"] = {{"podAgeSeconds", 0}, {"backoffSeconds", 180}, {"cooldownSeconds", 300},
                          {"sustainedSeconds", 600}};
  g["spec"]["scaleUp"].update(scale_up);
  return g;
}

json pressured(json n, const char* condition) {
  n["status"]["conditions"].push_back({{"type", condition}, {"status", "True"}});
  return n;
}

ClusterSnapshot with_requests(const std::vector<json>& objects, const std::vector<ScaleDirection>& directions) {
  ClusterSnapshot cluster = snapshot(objects);
  for (auto& g : cluster.node_groups) {
    for (auto direction : directions) g.requests.push_back({direction, "alert Test (fingerprint f, since s)"});
  }
  return cluster;
}

constexpr auto kUp = ScaleDirection::kUp;
constexpr auto kDown = ScaleDirection::kDown;

struct Case {
  const char* name;
  std::vector<json> objects;
  std::vector<ScaleDirection> requests;
  const char* now;
  std::vector<std::string> actions;
};

}  // namespace

TEST_CASE("a request asks for one node more or fewer, through the group's limits", "[requests]") {
  const json half = pod("shop", "half", "general-a", "2", "4Gi");
  const json small = pod("shop", "small", "general-b", "100m", "128Mi");
  const std::vector<Case> cases = {
      {"a scale_up request orders one node of the first offering",
       {node("general-a", "general"), half, group(json::object())}, {kUp}, kNow,
       {"scale-up general x1 desired 2: asked by alert Test (fingerprint f, since s)",
        "event ScaleUpRequested: adding one node, asked by alert Test (fingerprint f, since s)"}},
      {"two requests in one pass still order one node",
       {node("general-a", "general"), half, group(json::object())}, {kUp, kUp}, kNow,
       {"scale-up general x1 desired 2: asked by alert Test (fingerprint f, since s)",
        "event ScaleUpRequested: adding one node, asked by alert Test (fingerprint f, since s)",
        "event ScaleUpRequested: adding one node, asked by alert Test (fingerprint f, since s)"}},
      {"at maxNodes nothing is ordered",
       {node("general-a", "general"), half, group(json::object(), json::object(), 1, 1)}, {kUp}, kNow,
       {"event ScaleUpRequestRefused: no node added for alert Test (fingerprint f, since s): the group is at maxNodes 1"}},
      {"within cooldownSeconds of the last scale-up nothing is ordered",
       {node("general-a", "general"), half, group({{"lastScaleUp", {{"time", "2026-11-22T09:57:00Z"}}}})}, {kUp}, kNow,
       {"event ScaleUpRequestRefused: no node added for alert Test (fingerprint f, since s): the last scale-up was at "
        "2026-11-22T09:57:00Z (cooldownSeconds 300)"}},
      {"within backoffSeconds of a failure nothing is ordered",
       {node("general-a", "general"), half, group({{"lastScaleUpFailure", {{"time", "2026-11-22T09:59:00Z"}}}})}, {kUp},
       kNow,
       {"event ScaleUpRequestRefused: no node added for alert Test (fingerprint f, since s): the last scale-up failed "
        "at 2026-11-22T09:59:00Z (backoffSeconds 180)"}},
      {"a node in flight satisfies the request",
       {node("general-a", "general"), half,
        group({{"inFlight",
                {{{"name", "general-x"}, {"offering", "V92"}, {"requestedAt", "2026-11-22T09:59:00Z"}}}}})},
       {kUp}, kNow,
       {"event ScaleUpRequestRefused: no node added for alert Test (fingerprint f, since s): 1 node(s) still in flight"}},
      {"pending pods that order nodes this pass satisfy the request",
       {node("general-a", "general"), half, pending_pod("ai", "stt-0", "3", "1Gi"), group(json::object())}, {kUp}, kNow,
       {"scale-up general x1 desired 2: 1 node(s) for pending pods: ai/stt-0",
        "event ScaleUpRequestRefused: no node added for alert Test (fingerprint f, since s): nodes are already being "
        "added for pending pods or minNodes"}},
      {"a scale_down request drains the emptiest node scale-down finds safe, without waiting unneededSeconds",
       {node("general-a", "general"), half, node("general-b", "general"), small, node("general-c", "general"),
        pod("shop", "tiny", "general-c", "200m", "256Mi"), group(json::object())},
       {kDown}, kNow,
       {"event ScaleDownRequested: draining general-b (utilization 3%), asked by alert Test (fingerprint f, since s)",
        "drain general-b"}},
      {"a scale_down request at minNodes is refused with the reason",
       {node("general-a", "general"), small, group(json::object(), json::object(), 1, 3)}, {kDown}, kNow,
       {"event ScaleDownRequestRefused: no node removed for alert Test (fingerprint f, since s): general-a: removing "
        "it would leave 0 nodes, minNodes is 1"}},
      {"a scale_down request when no node is safe to drain (a PDB forbids it) is refused",
       {node("general-a", "general"), pod("shop", "full", "general-a", "3", "6Gi"), node("general-b", "general"), small,
        pdb("shop", "small", {{"app", "small"}}, 0),
        group(json::object(), json::object(), 1, 3)},
       {kDown}, kNow,
       {"event ScaleDownRequestRefused: no node removed for alert Test (fingerprint f, since s): no node can be "
        "drained safely (each is above scaleDown.utilizationThreshold or blocked)"}},
      {"a scale_down request while a node drains is refused: one removal at a time",
       {node("general-a", "general"), half, [] {
          json n = node("general-b", "general");
          n["spec"]["taints"] = {{{"key", kToBeDeletedTaint}, {"value", "1"}, {"effect", "NoSchedule"}}};
          n["spec"]["unschedulable"] = true;
          n["metadata"]["annotations"][kDrainStartedAnnotation] = "2026-11-22T09:59:00Z";
          return n;
        }(), small, group(json::object())},
       {kDown}, kNow,
       {"event ScaleDownRequestRefused: no node removed for alert Test (fingerprint f, since s): a node of the group is "
        "already being removed"}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto plan = plan_actuation(with_requests(c.objects, c.requests), at(c.now), {});
      CHECK(describe(plan) == c.actions);
    }
  }
}

TEST_CASE("sustained utilization or node pressure adds one node ahead of pending pods", "[requests]") {
  const json busy = pod("shop", "busy", "general-a", "1", "7Gi");  // memory 7 of 8Gi: 88 %
  const json threshold = {{"utilizationThreshold", 0.8}};
  const std::vector<Case> cases = {
      {"above the threshold since less than sustainedSeconds: nothing yet",
       {node("general-a", "general"), busy, group({{"pressureSince", "2026-11-22T09:55:00Z"}}, threshold)}, {}, kNow,
       {}},
      {"above the threshold for sustainedSeconds: one node",
       {node("general-a", "general"), busy, group({{"pressureSince", "2026-11-22T09:50:00Z"}}, threshold)}, {}, kNow,
       {"scale-up general x1 desired 2: requested memory at 88% of allocatable (utilizationThreshold 80%) since "
        "2026-11-22T09:50:00Z"}},
      {"cpu counts the same as memory",
       {node("general-a", "general"), pod("shop", "cpu", "general-a", "3500m", "1Gi"),
        group({{"pressureSince", "2026-11-22T09:50:00Z"}}, threshold)},
       {}, kNow,
       {"scale-up general x1 desired 2: requested cpu at 88% of allocatable (utilizationThreshold 80%) since "
        "2026-11-22T09:50:00Z"}},
      {"below the threshold: nothing, whatever the recorded clock",
       {node("general-a", "general"), pod("shop", "some", "general-a", "1", "1Gi"),
        group({{"pressureSince", "2026-11-22T09:00:00Z"}}, threshold)},
       {}, kNow, {}},
      {"without a threshold utilization does not count",
       {node("general-a", "general"), busy, group({{"pressureSince", "2026-11-22T09:00:00Z"}})}, {}, kNow, {}},
      {"a node with MemoryPressure counts, threshold or not",
       {pressured(node("general-a", "general"), "MemoryPressure"), group({{"pressureSince", "2026-11-22T09:50:00Z"}})},
       {}, kNow, {"scale-up general x1 desired 2: general-a reports MemoryPressure since 2026-11-22T09:50:00Z"}},
      {"sustained, but within cooldownSeconds of the last scale-up: waits, with an Event",
       {node("general-a", "general"), busy,
        group({{"pressureSince", "2026-11-22T09:30:00Z"}, {"lastScaleUp", {{"time", "2026-11-22T09:58:00Z"}}}}, threshold)},
       {}, kNow,
       {"event PressureScaleUpWaiting: no node added for requested memory at 88% of allocatable (utilizationThreshold "
        "80%) since 2026-11-22T09:30:00Z: the last scale-up was at 2026-11-22T09:58:00Z (cooldownSeconds 300)"}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto plan = plan_actuation(snapshot(c.objects), at(c.now), {});
      CHECK(describe(plan) == c.actions);
    }
  }
}

TEST_CASE("the pressure clock is kept in the status: started, kept, cleared", "[requests]") {
  const json threshold = {{"utilizationThreshold", 0.8}};
  struct ClockCase {
    const char* name;
    json status;
    json pod;
    std::optional<std::string> since;
  };
  const std::vector<ClockCase> cases = {
      {"starts now when it goes above", json::object(), pod("shop", "busy", "general-a", "1", "7Gi"), kNow},
      {"kept while it stays above", {{"pressureSince", "2026-11-22T09:55:00Z"}},
       pod("shop", "busy", "general-a", "1", "7Gi"), "2026-11-22T09:55:00Z"},
      {"cleared when it drops", {{"pressureSince", "2026-11-22T09:55:00Z"}}, pod("shop", "busy", "general-a", "1", "1Gi"),
       std::nullopt},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto plan = plan_actuation(snapshot({node("general-a", "general"), c.pod, group(c.status, threshold)}),
                                       at(kNow), {});
      REQUIRE(plan.statuses.size() == 1);
      json status = c.status;
      apply_status(plan.statuses.front(), at(kNow), status);
      if (c.since) {
        CHECK(status.value("pressureSince", "") == *c.since);
      } else {
        CHECK_FALSE(status.contains("pressureSince"));
      }
    }
  }
}

TEST_CASE("NodeGroup scaleUp.utilizationThreshold outside [0, 1] is refused naming the key", "[requests]") {
  json g = group(json::object(), {{"utilizationThreshold", 1.5}});
  const auto parsed = parse_node_group(g);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().message == "NodeGroup general: spec.scaleUp.utilizationThreshold: must be within [0, 1]");
}
