// The node-pool reconciler against the fake apiserver and a dispatch pipeline (the fake
// GitHub repository_dispatch endpoint; the test plays the pipeline by registering or
// deleting Node objects).
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "app/admin.h"
#include "app/node_providers.h"
#include "core/metrics.h"
#include "core/timestamp.h"
#include "fakes/fake_apiserver.h"
#include "fakes/fake_apiserver_client.h"
#include "fakes/fake_providers.h"
#include "kube/event_recorder.h"
#include "kube/informer_factory.h"
#include "kube/kube_client.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "nodepool/reconciler/nodepool_reconciler.h"

using namespace std::chrono_literals;
using ballast::testing::FakeApiServer;
using nlohmann::json;

namespace {

constexpr auto kWait = 10s;

// The dispatch payloads the pipeline received, oldest first.
std::vector<json> payloads(const ballast::testing::FakeDispatch& pipeline) {
  std::vector<json> out;
  for (const auto& request : pipeline.requests()) out.push_back(json::parse(request.body, nullptr, false));
  return out;
}

json node_group(const std::string& dispatch_url, int min_nodes, int max_nodes, int provision_timeout = 900) {
  return {{"apiVersion", "ballast.dev/v1alpha1"},
          {"kind", "NodeGroup"},
          {"metadata", {{"name", "general"}}},
          {"spec",
           {{"minNodes", min_nodes},
            {"maxNodes", max_nodes},
            {"provider",
             {{"type", "dispatch"},
              {"credentialsSecret", {{"name", "dispatch-credentials"}}},
              {"dispatch", {{"url", dispatch_url}, {"eventType", "ballast-scale"}}}}},
            {"offerings", json::array({{{"id", "V92"}, {"cpu", "4"}, {"memory", "8Gi"}, {"maxPods", 110}, {"monthlyPrice", 5.45}}})},
            {"scaleUp", {{"podAgeSeconds", 0}}},
            {"scaleDown",
             {{"enabled", true}, {"utilizationThreshold", 0.5}, {"unneededSeconds", 0}, {"delayAfterAddSeconds", 0},
              {"delayAfterFailureSeconds", 0}, {"maxGracefulTerminationSeconds", 600}}},
            {"provisionTimeoutSeconds", provision_timeout}}}};
}

json group_node(const std::string& name) {
  return ballast::testing::make_node(name, {{"ballast.dev/nodegroup", "general"}}, "4", "8Gi");
}

json owned(json pod) {
  pod["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "rs"}, {"uid", "rs-uid"}, {"controller", true}}});
  return pod;
}

json pending_pod(const std::string& name, const std::string& cpu) {
  json pod = owned(ballast::testing::make_pod("ai", name, {{"app", "stt"}}));
  pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = cpu;
  pod["status"]["conditions"] = json::array({{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"},
                                              {"lastTransitionTime", "2026-01-01T00:00:00Z"}}});
  return pod;
}

struct World : ballast::testing::FakeApiServerWithClient {
  World() {
    pipeline.start();
    server.put({{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", "dispatch-credentials"}, {"namespace", "ballast-system"}}},
                {"data", {{"token", "cGlwZWxpbmUtdG9rZW4="}}}});  // "pipeline-token"
    events = std::make_unique<ballast::kube::EventRecorder>(*client, "test");
  }
  ~World() {
    caches.clear();
    events.reset();
  }

  std::unique_ptr<ballast::nodepool::NodePoolReconciler> reconciler(
      bool dry_run = false, std::shared_ptr<ballast::nodepool::AlertRequestQueue> alert_requests = nullptr,
      std::chrono::milliseconds interval = 200ms) {
    ballast::nodepool::NodePoolOptions options;
    options.controller.dry_run = dry_run;
    options.controller.debounce = 20ms;
    options.controller.interval = interval;
    options.controller.retry = {20ms, 1s};
    options.alert_requests = std::move(alert_requests);
    // The production factory: provider settings from the NodeGroup, the token from its Secret.
    ballast::providers::ProviderContext context;
    context.transport = ballast::providers::http_transport(http);
    context.clock = &clock;
    caches.push_back(std::make_unique<ballast::kube::InformerFactory>(*client));
    auto made = std::make_unique<ballast::nodepool::NodePoolReconciler>(
        ballast::kube::ControllerContext{*client, *caches.back(), *events, [] { return true; }, clock, metrics},
        ballast::app::provider_factory(*client, "ballast-system", context), options);
    made->start();
    return made;
  }

  std::vector<json> in_flight() const {
    auto group = server.get("ballast.dev/v1alpha1", "nodegroups", "", "general");
    if (!group || !group->contains("status")) return {};
    return (*group)["status"].value("inFlight", json::array()).get<std::vector<json>>();
  }

  ballast::net::HttpClient http{pool};
  ballast::SteadyClock clock;
  ballast::MetricsRegistry metrics;
  ballast::testing::FakeDispatch pipeline{"pipeline-token"};  // rejects any other token with 401
  std::unique_ptr<ballast::kube::EventRecorder> events;
  // Each reconciler() is a replica of its own: it lists the cluster afresh, as a successor leader does.
  std::vector<std::unique_ptr<ballast::kube::InformerFactory>> caches;
};

}  // namespace

TEST_CASE("pending pods make a dispatch request, and the node that joins and is Ready ends the request", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  world.server.put(owned(ballast::testing::make_pod("ai", "busy", {{"app", "x"}}, "general-a")));
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 1, 3));
  world.server.put(pending_pod("stt-0", "3"));
  world.server.put(pending_pod("stt-1", "3"));
  world.server.put(pending_pod("stt-2", "3"));
  auto reconciler = world.reconciler();

  REQUIRE(FakeApiServer::wait_for([&] { return !payloads(world.pipeline).empty(); }, kWait));
  const json payload = payloads(world.pipeline).back();
  CHECK(payload["event_type"] == "ballast-scale");
  CHECK(payload["client_payload"]["nodegroup"] == "general");
  CHECK(payload["client_payload"]["desired"] == 3);  // the max: two more 4-CPU nodes for three 3-CPU pods, capped
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 2; }, kWait));

  // The pipeline brings the nodes up with the names ballast asked for. Registered but not
  // yet taking pods (not Ready yet; or Ready with the not-ready taint the node lifecycle
  // controller lifts a moment later), they are still in flight and nothing more is ordered.
  bool first = true;
  for (const auto& entry : world.in_flight()) {
    json registering = group_node(entry["name"]);
    if (first) {
      registering["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "Unknown"}}});
    } else {
      registering["spec"]["taints"] = json::array({{{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoSchedule"}}});
    }
    first = false;
    world.server.put(registering);
  }
  const auto passes = reconciler->passes();
  REQUIRE(FakeApiServer::wait_for([&] { return reconciler->passes() >= passes + 3; }, kWait));
  CHECK(world.in_flight().size() == 2);
  CHECK(payloads(world.pipeline).size() == 2);  // one request per VM, none more
  for (const auto& entry : world.in_flight()) world.server.put(group_node(entry["name"]));
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().empty(); }, kWait));
  std::this_thread::sleep_for(500ms);
  CHECK(payloads(world.pipeline).size() == 2);  // nothing more was asked for
  const auto group = world.server.get("ballast.dev/v1alpha1", "nodegroups", "", "general");
  CHECK(group->value("status", json::object()).value("lastScaleUp", json::object()).contains("time"));
}

TEST_CASE("a successor leader sees the in-flight request and orders no second node", "[nodepool]") {
  World world;
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 0, 5));
  world.server.put(pending_pod("stt-0", "3"));
  {
    auto first = world.reconciler();
    REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 1; }, kWait));
  }  // the leader dies here: its provider's memory goes with it
  auto second = world.reconciler();
  REQUIRE(FakeApiServer::wait_for([&] { return second->passes() >= 3; }, kWait));
  CHECK(world.in_flight().size() == 1);
  CHECK(payloads(world.pipeline).size() == 1);
}

TEST_CASE("an underused node is drained through evictions that respect its PDB, then removed", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  world.server.put(group_node("general-b"));
  world.server.put(owned(ballast::testing::make_pod("shop", "big", {{"app", "big"}}, "general-a")));
  world.server.patch_merge("v1", "pods", "shop", "big",
                           {{"spec", {{"containers", json::array({{{"name", "main"}, {"image", "x"},
                                                                   {"resources", {{"requests", {{"cpu", "3"}}}}}}})}}}});
  world.server.put(owned(ballast::testing::make_pod("shop", "web-0", {{"app", "web"}}, "general-b")));
  world.server.put(ballast::testing::make_pdb("shop", "web", {{"app", "web"}}, nullptr, 1));
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 1, 3));
  auto reconciler = world.reconciler();

  REQUIRE(FakeApiServer::wait_for([&] { return !world.server.get("v1", "nodes", "", "general-b").has_value(); }, kWait));
  CHECK_FALSE(world.server.get("v1", "pods", "shop", "web-0").has_value());  // evicted, not deleted by force
  CHECK(world.server.count_requests("POST", "/api/v1/namespaces/shop/pods/web-0/eviction") >= 1);
  const auto sent = payloads(world.pipeline);
  REQUIRE_FALSE(sent.empty());
  CHECK(sent.back()["client_payload"]["remove"] == json::array({"general-b"}));
  CHECK(sent.back()["client_payload"]["desired"] == 1);
  CHECK(world.server.get("v1", "nodes", "", "general-a").has_value());
}

TEST_CASE("a PDB that allows no disruption keeps the node, and says why", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  world.server.put(group_node("general-b"));
  world.server.put(owned(ballast::testing::make_pod("db", "pg-0", {{"app", "pg"}}, "general-b")));
  world.server.put(ballast::testing::make_pdb("db", "pg", {{"app", "pg"}}, 1));
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 1, 3));
  auto reconciler = world.reconciler();
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        for (const auto& event : world.server.list("events")) {
          if (event.value("reason", "") == "ScaleDownBlocked") return true;
        }
        return false;
      },
      kWait));
  CHECK(world.server.get("v1", "nodes", "", "general-b").has_value());
  CHECK(world.server.count_requests("POST", "/api/v1/namespaces/db/pods/pg-0/eviction") == 0);
  CHECK(payloads(world.pipeline).empty());
}

TEST_CASE("dry-run plans and reports but writes nothing", "[nodepool]") {
  World world;
  // A request whose node is busy and Ready: ending it is bookkeeping, and the pass goes on to report.
  json group = node_group(world.pipeline.url() + "/repos/o/r/dispatches", 0, 5);
  group["status"]["inFlight"] = json::array(
      {{{"name", "general-x"}, {"offering", "V92"}, {"requestedAt", "2026-01-01T00:00:00Z"}, {"requestId", "r"}}});
  world.server.put(group);
  world.server.put(group_node("general-x"));
  json busy = owned(ballast::testing::make_pod("ai", "busy", {{"app", "x"}}, "general-x"));
  busy["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3";
  world.server.put(busy);
  world.server.put(pending_pod("stt-0", "3"));
  auto reconciler = world.reconciler(true);
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        for (const auto& event : world.server.list("events")) {
          if (event.value("reason", "") == "DryRunScaleUp") return true;
        }
        return false;
      },
      kWait));
  CHECK(payloads(world.pipeline).empty());
  CHECK(world.in_flight().size() == 1);  // its status is not written either
}

TEST_CASE("a VM that never joins is deleted at the provider after provisionTimeout", "[nodepool]") {
  World world;
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 0, 5, 1));
  world.server.put(pending_pod("stt-0", "3"));
  auto reconciler = world.reconciler();
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 1; }, kWait));
  const std::string name = world.in_flight()[0]["name"];
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        for (const auto& event : world.server.list("events")) {
          if (event.value("reason", "") == "ProvisionTimeout") return true;
        }
        return false;
      },
      kWait));
  bool removed = false;
  for (const auto& payload : payloads(world.pipeline)) {
    removed = removed || payload["client_payload"]["remove"] == json::array({name});
  }
  CHECK(removed);
  // The status write that records the failure ends the pass that recorded the Event.
  CHECK(FakeApiServer::wait_for(
      [&] {
        const auto group = world.server.get("ballast.dev/v1alpha1", "nodegroups", "", "general");
        const json failure = group->value("status", json::object()).value("lastScaleUpFailure", json::object());
        return failure.value("reason", std::string()).find(name) != std::string::npos;
      },
      kWait));

  // The pod is still pending, but the group backs off instead of ordering again at once.
  const auto passes = reconciler->passes();
  REQUIRE(FakeApiServer::wait_for([&] { return reconciler->passes() >= passes + 3; }, kWait));
  CHECK(world.in_flight().empty());
  size_t creates = 0;
  for (const auto& payload : payloads(world.pipeline)) {
    const json& sent = payload["client_payload"];
    creates += !sent.contains("remove") || sent["remove"].empty() ? 1 : 0;
  }
  CHECK(creates == 1);
}

TEST_CASE("a provision timeout fires when it ends, not at the next interval pass", "[nodepool]") {
  World world;
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 0, 5, 2));
  world.server.put(pending_pod("stt-0", "3"));
  // Interval passes never come: only changes and the deadlines a pass names run the next one.
  auto reconciler = world.reconciler(false, nullptr, 1h);
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 1; }, kWait));
  const auto requested = ballast::parse_time(world.in_flight()[0]["requestedAt"].get<std::string>());
  REQUIRE(requested.ok());
  auto removed = [&] {
    for (const auto& payload : payloads(world.pipeline)) {
      if (!payload["client_payload"].value("remove", json::array()).empty()) return true;
    }
    return false;
  };
  REQUIRE(FakeApiServer::wait_for(removed, kWait));
  // requestedAt is rounded up to the microsecond: the timeout ends no earlier than 2 s after the order.
  const auto late = std::chrono::system_clock::now() - (*requested + 2s);
  WARN("provision timeout acted on " << std::chrono::duration_cast<std::chrono::milliseconds>(late).count()
                                     << " ms after it ended");
  CHECK(late < 2s);  // a pass on a loaded machine; without the deadline it waited for the interval pass (1 h here, 10 s by default)
}

TEST_CASE("a VM ordered by a leader that died before VPSie answered is deleted by its name after provisionTimeout",
          "[nodepool]") {
  World world;
  ballast::testing::FakeVpsie vpsie("vpsie-token", "", "", "account-pw");
  vpsie.start();
  vpsie.put_vm({"vm-7", "general-0a1b2c3d", {"ballast", "ballast-nodegroup-general"}, "V92", "running", "", "", 0});
  world.server.put({{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata", {{"name", "vpsie-credentials"}, {"namespace", "ballast-system"}}},
                    {"data", {{"token", "dnBzaWUtdG9rZW4="}, {"accountPassword", "YWNjb3VudC1wdw=="}}}});
  json group = node_group("", 0, 5, 1);
  group["spec"]["provider"] = {
      {"type", "vpsie"},
      {"credentialsSecret", {{"name", "vpsie-credentials"}}},
      {"vpsie", {{"apiURL", vpsie.url()}, {"datacenter", "dc-1"}, {"osIdentifier", "os-1"}}}};
  // What the dead leader wrote before asking VPSie: the request, without VPSie's identifier.
  group["status"] = {{"inFlight", json::array({{{"name", "general-0a1b2c3d"},
                                                {"offering", "V92"},
                                                {"requestedAt", "2026-01-01T00:00:00Z"},
                                                {"requestId", "0a1b2c3d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"}}})}};
  world.server.put(group);
  auto reconciler = world.reconciler();

  REQUIRE(FakeApiServer::wait_for([&] { return vpsie.vms().empty(); }, kWait));
  CHECK(vpsie.count_requests("DELETE", "/api/v2/vm") == 1);
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().empty(); }, kWait));
  CHECK(vpsie.count_requests("POST", "/api/v2/vm") == 0);
}

TEST_CASE("a node NotReady longer than unreadySeconds is deleted with its VM, without evictions", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  json dead = group_node("general-b");
  dead["status"]["conditions"] = json::array(
      {{{"type", "Ready"}, {"status", "Unknown"}, {"reason", "NodeStatusUnknown"}, {"lastTransitionTime", "2026-01-01T00:00:00Z"}}});
  world.server.put(dead);
  // A pod its PDB protects: on a dead node it neither blocks nor is evicted.
  world.server.put(owned(ballast::testing::make_pod("db", "pg-0", {{"app", "pg"}}, "general-b")));
  world.server.put(ballast::testing::make_pdb("db", "pg", {{"app", "pg"}}, 1));
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 1, 3));
  auto reconciler = world.reconciler();

  REQUIRE(FakeApiServer::wait_for([&] { return !world.server.get("v1", "nodes", "", "general-b").has_value(); }, kWait));
  CHECK(world.server.count_requests("POST", "/api/v1/namespaces/db/pods/pg-0/eviction") == 0);
  const auto sent = payloads(world.pipeline);
  REQUIRE_FALSE(sent.empty());
  CHECK(sent.back()["client_payload"]["remove"] == json::array({"general-b"}));
  CHECK(world.server.get("v1", "nodes", "", "general-a").has_value());
}

TEST_CASE("a pod on a node-bound local-path volume keeps its node, and the Event names the volume", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  json bound = group_node("general-b");
  bound["metadata"]["labels"]["kubernetes.io/hostname"] = "general-b";
  world.server.put(bound);
  json pod = owned(ballast::testing::make_pod("db", "pg-0", {{"app", "pg"}}, "general-b"));
  pod["spec"]["volumes"] = json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data-pg-0"}}}}});
  world.server.put(pod);
  world.server.put({{"apiVersion", "v1"},
                    {"kind", "PersistentVolumeClaim"},
                    {"metadata", {{"name", "data-pg-0"}, {"namespace", "db"}}},
                    {"spec", {{"volumeName", "pvc-1234"}, {"storageClassName", "local-path"}}}});
  world.server.put(
      {{"apiVersion", "v1"},
       {"kind", "PersistentVolume"},
       {"metadata", {{"name", "pvc-1234"}}},
       {"spec",
        {{"claimRef", {{"namespace", "db"}, {"name", "data-pg-0"}}},
         {"hostPath", {{"path", "/var/lib/rancher/k3s/storage/pvc-1234"}}},
         {"nodeAffinity",
          {{"required",
            {{"nodeSelectorTerms",
              json::array({{{"matchExpressions",
                             json::array({{{"key", "kubernetes.io/hostname"}, {"operator", "In"},
                                           {"values", json::array({"general-b"})}}})}}})}}}}}}}});
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 1, 3));
  auto reconciler = world.reconciler();
  std::string message;
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        for (const auto& event : world.server.list("events")) {
          if (event.value("reason", "") == "ScaleDownBlocked") message = event.value("message", "");
        }
        return !message.empty();
      },
      kWait));
  CHECK(message.find("pod db/pg-0 uses volume data (PersistentVolume pvc-1234") != std::string::npos);
  CHECK(world.server.get("v1", "nodes", "", "general-b").has_value());
  CHECK(world.server.count_requests("POST", "/api/v1/namespaces/db/pods/pg-0/eviction") == 0);
  CHECK(payloads(world.pipeline).empty());
}

TEST_CASE("a pipeline that names its own node: the node is adopted, ends the request once Ready, and never times out",
          "[nodepool]") {
  World world;
  json group = node_group(world.pipeline.url() + "/repos/o/r/dispatches", 0, 3, 1);
  group["spec"]["provider"]["dispatch"]["scaleDownEventType"] = "scale_down";
  world.server.put(group);
  world.server.put(pending_pod("stt-0", "3"));
  auto reconciler = world.reconciler();
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 1; }, kWait));

  // The pipeline's own name, registering (not Ready yet) within the second the timeout allows.
  json joined = ballast::testing::make_node("talent-mesh-node-1", {{"ballast.dev/nodegroup", "general"}}, "4", "8Gi");
  joined["metadata"]["creationTimestamp"] = ballast::format_time(std::chrono::system_clock::now() + 1s);
  joined["status"]["conditions"] = json::array({{{"type", "Ready"}, {"status", "False"}}});
  world.server.put(joined);
  // The request as adopted: the first status write of a request precedes the provider's
  // answer, so only a later one carries its providerId.
  json request;
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        const auto entries = world.in_flight();
        if (entries.size() != 1 || entries[0].value("node", "") != "talent-mesh-node-1") return false;
        request = entries[0];
        return true;
      },
      kWait));
  REQUIRE(request.contains("providerId"));
  // Well past provisionTimeoutSeconds (1 s): the node joined, so the request stands.
  const auto passes = reconciler->passes();
  REQUIRE(FakeApiServer::wait_for([&] { return reconciler->passes() >= passes + 8; }, kWait));
  std::this_thread::sleep_for(1500ms);
  CHECK(world.in_flight().size() == 1);
  for (const auto& event : world.server.list("events")) CHECK(event.value("reason", "") != "ProvisionTimeout");
  CHECK(payloads(world.pipeline).size() == 1);  // no second VM for the same pod

  world.server.put(ballast::testing::make_node("talent-mesh-node-1", {{"ballast.dev/nodegroup", "general"}}, "4", "8Gi"));
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().empty(); }, kWait));
  std::set<std::string> reasons;
  for (const auto& event : world.server.list("events")) reasons.insert(event.value("reason", ""));
  CHECK(reasons.count("NodeJoined") == 1);
  CHECK(reasons.count("NodeReady") == 1);
  const auto status = world.server.get("ballast.dev/v1alpha1", "nodegroups", "", "general")->value("status", json::object());
  CHECK(status.value("readyNodes", -1) == 1);
  CHECK(status.value("desiredNodes", -1) == 1);
  REQUIRE(status.value("nodes", json::array()).size() == 1);
  CHECK(status["nodes"][0]["providerId"] == request["providerId"]);
  CHECK(status["nodes"][0]["offering"] == "V92");
  CHECK(payloads(world.pipeline)[0]["client_payload"]["direction"] == "up");
}

TEST_CASE("an Alertmanager alert POSTed to the admin port adds one node through the dispatch pipeline", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  world.server.put(node_group(world.pipeline.url() + "/repos/o/r/dispatches", 1, 3));
  auto queue = std::make_shared<ballast::nodepool::AlertRequestQueue>();
  auto reconciler = world.reconciler(false, queue);
  bool leader = false;
  ballast::app::AlertsRoute route{{"alert-token"}, queue.get(), [&] { return leader; }};
  ballast::MetricsRegistry admin_metrics;
  auto admin = ballast::net::HttpServer::start(world.pool, {"127.0.0.1:0"}, [&](const ballast::net::HttpRequest& r) {
    return ballast::app::handle_admin(r, admin_metrics, true, "", &route);
  });
  REQUIRE(admin);
  const std::string url = "http://127.0.0.1:" + std::to_string((*admin)->port()) + "/v1/alerts";
  const json firing = {{"version", "4"},
                       {"status", "firing"},
                       {"receiver", "ballast"},
                       {"alerts", json::array({{{"status", "firing"},
                                                {"labels", {{"alertname", "ClusterCapacityHigh"},
                                                            {"ballast_nodegroup", "general"},
                                                            {"ballast_action", "scale_up"}}},
                                                {"startsAt", "2026-12-07T01:00:00Z"},
                                                {"fingerprint", "3f2a"}}})}};
  auto post = [&](const std::string& token, const std::string& body) {
    ballast::net::HttpClientRequest request;
    request.method = "POST";
    request.url = url;
    if (!token.empty()) request.headers.push_back({"Authorization", "Bearer " + token});
    request.headers.push_back({"Content-Type", "application/json"});
    request.body = body;
    auto response = world.http.request_sync(request);
    REQUIRE(response);
    return *response;
  };

  ballast::net::HttpRequest without_flag{"POST", "/v1/alerts", {}, firing.dump()};
  CHECK(ballast::app::handle_admin(without_flag, admin_metrics, true).status == 404);  // no --alerts-token-file
  CHECK(post("", firing.dump()).status == 401);
  CHECK(post("wrong-token", firing.dump()).status == 401);
  const auto bad = post("alert-token", R"({"version":"4","alerts":[{"status":"firing","labels":{"ballast_nodegroup":"general","ballast_action":"up"}}]})");
  CHECK(bad.status == 400);
  CHECK(bad.body.find("alerts[0].labels.ballast_action") != std::string::npos);
  // A replica that does not lead answers 503 (Alertmanager retries) and records nothing.
  const auto follower = post("alert-token", firing.dump());
  CHECK(follower.status == 503);
  const auto connection = follower.headers.find("connection");
  CHECK((connection != follower.headers.end() && connection->second == "close"));
  CHECK(json::parse(follower.body)["leader"] == false);

  leader = true;
  const auto accepted = post("alert-token", firing.dump());
  CHECK(accepted.status == 202);
  CHECK(json::parse(accepted.body)["recorded"] == 1);
  REQUIRE(FakeApiServer::wait_for([&] { return !payloads(world.pipeline).empty(); }, kWait));
  CHECK(payloads(world.pipeline).back()["client_payload"]["desired"] == 2);
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 1; }, kWait));

  // Alertmanager's repeat_interval re-send is the same firing: recorded once, no second node.
  CHECK(json::parse(post("alert-token", firing.dump()).body)["recorded"] == 0);
  const auto passes = reconciler->passes();
  REQUIRE(FakeApiServer::wait_for([&] { return reconciler->passes() >= passes + 3; }, kWait));
  CHECK(payloads(world.pipeline).size() == 1);
  (*admin)->stop();
}
