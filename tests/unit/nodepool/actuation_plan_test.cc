// plan_actuation(): one reconciler pass decided with time passed in. Each case is a
// cluster (as JSON, through the parsers), an instant, and the actions in order.
#include "nodepool/actuation_plan.h"

#include <algorithm>

#include <catch2/catch.hpp>

#include "cluster_builder.h"

using namespace ballast::nodepool;
using namespace ballast::nodepool::testing;

namespace {

// One line per action, so a case reads as the pass it specifies.
std::string describe(const Action& planned) {
  return std::visit(
      [](const auto& a) -> std::string {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, action::ScaleUp>) {
          return "scale-up " + a.group + " " + a.offering + " x" + std::to_string(a.count) + " desired " +
                 std::to_string(a.desired);
        } else if constexpr (std::is_same_v<T, action::AdoptNode>) {
          return "adopt " + a.request + " -> " + a.node;
        } else if constexpr (std::is_same_v<T, action::EndInFlight>) {
          return "end " + a.request + " (" + a.node + ")";
        } else if constexpr (std::is_same_v<T, action::ProvisionTimeout>) {
          return "timeout " + a.request + " desired " + std::to_string(a.desired);
        } else if constexpr (std::is_same_v<T, action::StartDrain>) {
          return "drain " + a.node;
        } else if constexpr (std::is_same_v<T, action::Evict>) {
          return "evict " + a.pod.str() + " from " + a.node;
        } else if constexpr (std::is_same_v<T, action::UndoDrain>) {
          return "undo " + a.node + ": " + a.why;
        } else if constexpr (std::is_same_v<T, action::DeleteNode>) {
          return std::string(a.drained ? "delete " : "delete unready ") + a.node + " desired " + std::to_string(a.desired);
        } else {
          return "event " + a.reason + " " + a.subject.kind + "/" + a.subject.name;
        }
      },
      planned);
}

std::vector<std::string> describe(const ActuationPlan& plan) {
  std::vector<std::string> out;
  for (const auto& planned : plan.actions) out.push_back(describe(planned));
  return out;
}

json in_flight(const std::string& name, const char* requested_at, const std::string& request_id = "",
               const std::string& adopted = "") {
  json entry = {{"name", name}, {"offering", "V92"}, {"requestedAt", requested_at}, {"providerId", "vm-" + name}};
  if (!request_id.empty()) entry["requestId"] = request_id;
  if (!adopted.empty()) entry["node"] = adopted;
  return entry;
}

json group_with(json group, const json& status, const json& spec = json::object()) {
  group["status"] = status;
  group["spec"]["scaleUp"] = {{"podAgeSeconds", 0}, {"backoffSeconds", 180}};
  group["spec"]["provisionTimeoutSeconds"] = 900;
  group["spec"].update(spec);
  return group;
}

json registered(const std::string& name, const char* created, bool ready = true) {
  json n = node(name, "general");
  n["metadata"]["creationTimestamp"] = created;
  return ready ? n : unready(n, "False", created);
}

json annotated(json object, const std::string& key, const std::string& value) {
  object["metadata"]["annotations"][key] = value;
  return object;
}

json draining(json n, const char* since) {
  n["spec"]["taints"] = {{{"key", kToBeDeletedTaint}, {"value", "1"}, {"effect", "NoSchedule"}}};
  n["spec"]["unschedulable"] = true;
  return annotated(n, kDrainStartedAnnotation, since);
}

struct Case {
  const char* name;
  std::vector<json> objects;
  const char* now;
  std::vector<std::string> actions;
};

}  // namespace

TEST_CASE("one pass, decided: in-flight requests, backoff, drains and removals", "[actuation]") {
  const json busy = pod("shop", "busy", "general-a", "3", "1Gi");
  const std::vector<Case> cases = {
      {"a pending pod orders one node, towards the group's whole size",
       {node("general-a", "general"), busy, group_with(node_group("general", 1, 3), json::object()),
        pending_pod("ai", "stt-0", "3", "1Gi")},
       "2026-11-22T10:00:00Z",
       {"scale-up general V92 x1 desired 2"}},
      {"a requested node that registered and is Ready ends its request, with an Event",
       {node("general-a", "general"), busy, registered("general-1234", "2026-11-22T09:58:00Z"),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-1234", "2026-11-22T09:55:00Z")}}})},
       "2026-11-22T10:00:00Z",
       {"end general-1234 (general-1234)", "event NodeReady Node/general-1234"}},
      {"a requested node that registered but is not Ready stays in flight, and never times out",
       {node("general-a", "general"), busy, registered("general-1234", "2026-11-22T09:58:00Z", false),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-1234", "2026-11-22T09:00:00Z")}}})},
       "2026-11-22T10:00:00Z",
       {"event NodeJoined Node/general-1234", "event ScaleDownBlocked Node/general-1234"}},
      {"a requested node that registered but is not Ready yet is planned as capacity: no second VM for its pod",
       {node("general-a", "general"), busy, registered("general-1234", "2026-11-22T09:59:00Z", false),
        pending_pod("ai", "stt-0", "3", "1Gi"),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-1234", "2026-11-22T09:58:00Z")}}})},
       "2026-11-22T10:00:00Z",
       {"event NodeJoined Node/general-1234", "event ScaleDownBlocked Node/general-1234"}},
      {"a node the pipeline named itself is adopted by the oldest request, and ends it once Ready",
       {node("general-a", "general"), busy, registered("talent-mesh-node-4", "2026-11-22T09:58:00Z"),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-bbbb", "2026-11-22T09:57:00Z"),
                                                               in_flight("general-aaaa", "2026-11-22T09:56:00Z")}}})},
       "2026-11-22T10:00:00Z",
       {"adopt general-aaaa -> talent-mesh-node-4", "end general-aaaa (talent-mesh-node-4)",
        "event NodeReady Node/talent-mesh-node-4"}},
      {"a node echoing a request id is adopted by that request, not the oldest",
       {node("general-a", "general"), busy,
        annotated(registered("talent-mesh-node-5", "2026-11-22T09:58:00Z", false), kRequestIdAnnotation, "id-bbbb"),
        group_with(node_group("general", 1, 3),
                   {{"inFlight", {in_flight("general-aaaa", "2026-11-22T09:56:00Z", "id-aaaa"),
                                  in_flight("general-bbbb", "2026-11-22T09:57:00Z", "id-bbbb")}}})},
       "2026-11-22T10:00:00Z",
       {"adopt general-bbbb -> talent-mesh-node-5", "event NodeJoined Node/talent-mesh-node-5",
        "event ScaleDownBlocked Node/talent-mesh-node-5"}},
      {"an adopted node that is not Ready yet keeps its request past the provision timeout",
       {node("general-a", "general"), busy, registered("talent-mesh-node-4", "2026-11-22T09:45:00Z", false),
        group_with(node_group("general", 1, 3),
                   {{"inFlight", {in_flight("general-aaaa", "2026-11-22T09:30:00Z", "", "talent-mesh-node-4")}},
                    {"nodes", {{{"name", "talent-mesh-node-4"}, {"state", "needed"}}}}})},
       "2026-11-22T10:00:00Z",
       {"event NodeJoined Node/talent-mesh-node-4", "event ScaleDownBlocked Node/talent-mesh-node-4"}},
      {"a node that ended its own request last pass is not adopted by the next request",
       {node("general-a", "general"), busy, registered("general-aaaa", "2026-11-22T09:58:00Z"),
        group_with(node_group("general", 1, 3),
                   {{"inFlight", {in_flight("general-bbbb", "2026-11-22T09:57:00Z")}},
                    {"nodes", {{{"name", "general-a"}, {"state", "needed"}}, {{"name", "general-aaaa"}, {"state", "needed"}}}}})},
       "2026-11-22T10:00:00Z",
       {}},
      {"a node created in the second of the order is adopted (creationTimestamp has whole seconds, requestedAt a fraction)",
       {node("general-a", "general"), busy, registered("talent-mesh-node-4", "2026-11-22T09:56:00Z"),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-aaaa", "2026-11-22T09:56:00.400000Z")}}})},
       "2026-11-22T10:00:00Z",
       {"adopt general-aaaa -> talent-mesh-node-4", "end general-aaaa (talent-mesh-node-4)",
        "event NodeReady Node/talent-mesh-node-4"}},
      {"a node that registered before the request is not adopted",
       {node("general-a", "general"), busy, registered("general-old", "2026-11-22T09:00:00Z"),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-aaaa", "2026-11-22T09:56:00Z")}}})},
       "2026-11-22T10:00:00Z",
       {}},
      {"no node within provisionTimeout: the VM is deleted telling the provider the group's size, and the group backs off",
       {node("general-a", "general"), busy, pending_pod("ai", "stt-0", "3", "1Gi"), pending_pod("ai", "stt-1", "3", "1Gi"),
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-aaaa", "2026-11-22T09:44:00Z"),
                                                               in_flight("general-bbbb", "2026-11-22T09:59:00Z")}}})},
       "2026-11-22T10:00:00Z",
       {"timeout general-aaaa desired 2", "event ScaleUpBackoff NodeGroup/general"}},
      {"within scaleUp.backoffSeconds of a failure nothing is ordered",
       {node("general-a", "general"), busy, pending_pod("ai", "stt-0", "3", "1Gi"),
        group_with(node_group("general", 1, 3), {{"lastScaleUpFailure", {{"time", "2026-11-22T09:58:00Z"}}}})},
       "2026-11-22T10:00:00Z",
       {"event ScaleUpBackoff NodeGroup/general"}},
      {"a failure written to the microsecond backs off until its last microsecond (not to the second before)",
       {node("general-a", "general"), busy, pending_pod("ai", "stt-0", "3", "1Gi"),
        group_with(node_group("general", 1, 3), {{"lastScaleUpFailure", {{"time", "2026-11-22T09:57:00.500000Z"}}}})},
       "2026-11-22T10:00:00Z",
       {"event ScaleUpBackoff NodeGroup/general"}},
      {"after the backoff the group orders again",
       {node("general-a", "general"), busy, pending_pod("ai", "stt-0", "3", "1Gi"),
        group_with(node_group("general", 1, 3), {{"lastScaleUpFailure", {{"time", "2026-11-22T09:56:00Z"}}}})},
       "2026-11-22T10:00:00Z",
       {"scale-up general V92 x1 desired 2"}},
      {"a drain under way evicts what is left (a pod already terminating is left alone)",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:59:00Z"),
        pod("shop", "web-0", "general-b", "100m", "128Mi"),
        [] {
          json p = pod("shop", "web-1", "general-b", "100m", "128Mi");
          p["metadata"]["deletionTimestamp"] = "2026-11-22T09:59:30Z";
          return p;
        }(),
        group_with(node_group("general", 1, 3), json::object())},
       "2026-11-22T10:00:00Z",
       {"evict shop/web-0 from general-b"}},
      {"a drain past maxGracefulTerminationSeconds is undone",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:49:00Z"),
        pod("shop", "web-0", "general-b", "100m", "128Mi"),
        group_with(node_group("general", 1, 3), json::object(), {{"scaleDown", {{"maxGracefulTerminationSeconds", 600}}}})},
       "2026-11-22T10:00:00Z",
       {"undo general-b: pods still running after 600s of draining"}},
      {"a drain whose pod a PDB holds still asks the Eviction API, and says in an Event which PDB it waits for",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:59:00Z"),
        pod("shop", "web-0", "general-b", "100m", "128Mi"), pdb("shop", "web", {{"app", "web-0"}}, 0),
        group_with(node_group("general", 1, 3), json::object())},
       "2026-11-22T10:00:00Z",
       {"event DrainWaiting Node/general-b", "evict shop/web-0 from general-b", "event ScaleDownBlocked Node/general-b"}},
      {"a PDB that allows a disruption holds nothing: no Event",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:59:00Z"),
        pod("shop", "web-0", "general-b", "100m", "128Mi"), pdb("shop", "web", {{"app", "web-0"}}, 1),
        pdb("other", "web", {{"app", "web-0"}}, 0), group_with(node_group("general", 1, 3), json::object())},
       "2026-11-22T10:00:00Z",
       {"evict shop/web-0 from general-b"}},
      {"a drain a PDB held past maxGracefulTerminationSeconds is undone naming the PDB",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:49:00Z"),
        pod("shop", "web-0", "general-b", "100m", "128Mi"), pdb("shop", "web", {{"app", "web-0"}}, 0),
        group_with(node_group("general", 1, 3), json::object(), {{"scaleDown", {{"maxGracefulTerminationSeconds", 600}}}})},
       "2026-11-22T10:00:00Z",
       {"event DrainWaiting Node/general-b",
        "undo general-b: pods still running after 600s of draining: pod shop/web-0 is held by PDB shop/web "
        "(disruptionsAllowed 0)",
        "event ScaleDownBlocked Node/general-b"}},
      {"an empty draining node is deleted, the provider told the size without it",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:59:00Z"),
        group_with(node_group("general", 1, 3), json::object())},
       "2026-11-22T10:00:00Z",
       {"delete general-b desired 1"}},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto plan = plan_actuation(snapshot(c.objects), at(c.now), {});
      CHECK(describe(plan) == c.actions);
    }
  }
}

TEST_CASE("provisionTimeoutSeconds never ends before its length has passed since the order", "[actuation]") {
  using namespace std::chrono_literals;
  // Nanoseconds past a microsecond: a stored time cut to microseconds would be before the order.
  const ballast::TimePoint ordered = at("2026-11-22T09:45:00.7000004Z");
  CHECK(delay_start_text(ordered) == "2026-11-22T09:45:00.700001Z");
  const ballast::TimePoint old_order = at("2026-11-22T09:45:00Z");  // objects written before kept whole seconds
  struct TimeoutCase {
    const char* name;
    std::string requested_at;
    ballast::TimePoint ordered;
    ballast::TimePoint now;
    bool timed_out;
  };
  const std::vector<TimeoutCase> cases = {
      {"written now, 1 ms before the timeout ends", delay_start_text(ordered), ordered, ordered + 900s - 1ms, false},
      {"written now, exactly at the timeout", delay_start_text(ordered), ordered, ordered + 900s, false},
      {"written now, 1 ms after the timeout", delay_start_text(ordered), ordered, ordered + 900s + 1ms, true},
      {"whole seconds, 1 ms before the timeout ends", "2026-11-22T09:45:00Z", old_order, old_order + 900s - 1ms, false},
      {"whole seconds, exactly at the timeout", "2026-11-22T09:45:00Z", old_order, old_order + 900s, false},
      {"whole seconds, 1 ms after the timeout", "2026-11-22T09:45:00Z", old_order, old_order + 900s + 1ms, true},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const json group =
          group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-aaaa", c.requested_at.c_str())}}});
      const auto plan = plan_actuation(snapshot({node("general-a", "general"), group}), c.now, {});
      const auto actions = describe(plan);
      CHECK((std::find(actions.begin(), actions.end(), "timeout general-aaaa desired 1") != actions.end()) ==
            c.timed_out);
      if (!c.timed_out) {
        // Nor does the pass wake up for it early.
        REQUIRE(plan.next_due.has_value());
        CHECK(*plan.next_due > c.ordered + 900s);
      }
    }
  }
}

TEST_CASE("dry-run plans the same pass as Events only", "[actuation]") {
  ActuationOptions options;
  options.dry_run = true;
  const auto plan = plan_actuation(
      snapshot({group_with(node_group("general", 0, 3), json::object()), pending_pod("ai", "stt-0", "3", "1Gi")}),
      at(kNow), options);
  CHECK(describe(plan) == std::vector<std::string>{"event DryRunScaleUp NodeGroup/general"});
}

TEST_CASE("the status a pass plans: ready and desired nodes agree with in-flight work, conditions say why",
          "[actuation]") {
  const auto plan = plan_actuation(
      snapshot({node("general-a", "general"), registered("general-b", "2026-11-22T09:58:00Z", false),
                pod("shop", "busy", "general-a", "3", "1Gi"), pending_pod("ai", "stt-0", "3", "1Gi"),
                group_with(node_group("general", 1, 4),
                           {{"inFlight", {in_flight("general-cccc", "2026-11-22T09:59:00Z")}},
                            {"nodes", {{{"name", "general-a"}, {"state", "needed"}, {"providerId", "vm-a"},
                                        {"offering", "V92"}}}}})}),
      at(kNow), {});
  REQUIRE(plan.statuses.size() == 1);
  const auto& status = plan.statuses[0];
  CHECK(status.current_nodes == 2);
  CHECK(status.ready_nodes == 1);
  CHECK(status.in_flight == 1);
  // The pending pod fits the in-flight node: nothing more is ordered.
  CHECK(status.desired_nodes == 3);
  CHECK(describe(plan) == std::vector<std::string>{"event ScaleDownBlocked Node/general-b"});
  std::map<std::string, std::pair<bool, std::string>> conditions;
  for (const auto& condition : status.conditions) conditions[condition.type] = {condition.status, condition.reason};
  CHECK(conditions["Ready"] == std::make_pair(true, std::string("MinNodesReady")));
  CHECK(conditions["ScalingUp"] == std::make_pair(true, std::string("NodesInFlight")));
  CHECK(conditions["ScalingDown"] == std::make_pair(false, std::string("NoScaleDown")));
  CHECK(conditions["Backoff"] == std::make_pair(false, std::string("NoRecentFailure")));
  REQUIRE(status.nodes.size() == 2);
  CHECK(status.nodes[0]["name"] == "general-a");
  CHECK(status.nodes[0]["providerId"] == "vm-a");
  CHECK(status.nodes[0]["offering"] == "V92");
  CHECK(status.nodes[0]["created"] == kLongAgo);
}

TEST_CASE("a condition keeps its lastTransitionTime while its status holds", "[actuation]") {
  GroupStatusPlan plan;
  plan.group = "general";
  plan.conditions = {{"Ready", true, "MinNodesReady", "1 of 1"}, {"Backoff", true, "ScaleUpFailed", "x"}};
  json status = {{"conditions",
                  {{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", "2026-11-22T08:00:00Z"}},
                   {{"type", "Backoff"}, {"status", "False"}, {"lastTransitionTime", "2026-11-22T08:00:00Z"}}}},
                 {"lastScaleUp", {{"time", "2026-11-22T07:00:00Z"}}}};
  apply_status(plan, at(kNow), status);
  CHECK(status["conditions"][0]["lastTransitionTime"] == "2026-11-22T08:00:00Z");
  CHECK(status["conditions"][1]["lastTransitionTime"] == kNow);
  CHECK(status["lastScaleUp"]["time"] == "2026-11-22T07:00:00Z");  // fields the plan does not own are kept
}

TEST_CASE("a pass names the instant its first running timer ends, so the next pass is not an interval late",
          "[actuation]") {
  struct DueCase {
    const char* name;
    std::vector<json> objects;
    std::optional<const char*> due;  // none: nothing waits on time
  };
  const json busy = pod("shop", "busy", "general-a", "3", "1Gi");
  const json settled = group_with(node_group("general", 1, 3), json::object());
  const std::vector<DueCase> cases = {
      {"nothing waits on time", {node("general-a", "general"), busy, settled}, std::nullopt},
      {"a request in flight times out a tick after provisionTimeoutSeconds",
       {node("general-a", "general"), busy,
        group_with(node_group("general", 1, 3), {{"inFlight", {in_flight("general-1234", "2026-11-22T09:55:00Z")}}})},
       "2026-11-22T10:10:00.001Z"},
      {"a drain is undone a tick after maxGracefulTerminationSeconds",
       {node("general-a", "general"), busy, draining(node("general-b", "general"), "2026-11-22T09:59:00Z"),
        pod("shop", "web-0", "general-b", "100m", "128Mi"), settled},
       "2026-11-22T10:09:00.001Z"},
      {"a group backing off after a failed scale-up orders again when backoffSeconds end",
       {node("general-a", "general"), busy, pending_pod("ai", "stt-0", "3", "1Gi"),
        group_with(node_group("general", 1, 3), {{"lastScaleUpFailure", {{"time", "2026-11-22T09:58:00Z"}}}})},
       "2026-11-22T10:01:00Z"},
      {"a pending pod younger than podAgeSeconds is considered once it is old enough",
       {node("general-a", "general"), busy, pending_pod("ai", "stt-0", "3", "1Gi", "2026-11-22T09:59:50Z"),
        group_with(node_group("general", 1, 3), json::object(), {{"scaleUp", {{"podAgeSeconds", 30}}}})},
       "2026-11-22T10:00:20Z"},
      {"an unneeded node is removed once unneededSeconds end",
       {node("general-a", "general"), busy, node("general-b", "general"),
        group_with(node_group("general", 1, 3),
                   {{"nodes", {{{"name", "general-b"}, {"state", "unneeded"}, {"unneededSince", "2026-11-22T09:55:00Z"}}}}},
                   {{"scaleDown", {{"unneededSeconds", 600}}}})},
       "2026-11-22T10:05:00Z"},
      {"after a scale-up the first of cooldown and delayAfterAdd",
       {node("general-a", "general"), busy,
        group_with(node_group("general", 1, 3), {{"lastScaleUp", {{"time", "2026-11-22T09:58:00Z"}}}})},
       "2026-11-22T10:03:00Z"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      const auto plan = plan_actuation(snapshot(c.objects), at(kNow), {});
      if (c.due) {
        REQUIRE(plan.next_due.has_value());
        CHECK(ballast::format_micro_time(*plan.next_due) == ballast::format_micro_time(at(*c.due)));
      } else {
        CHECK_FALSE(plan.next_due.has_value());
      }
    }
  }
}
