// The node-pool reconciler against the fake apiserver and a dispatch pipeline (a loopback
// HTTP server that records GitHub repository_dispatch payloads; the test plays the
// pipeline by registering or deleting Node objects).
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "app/node_providers.h"
#include "core/metrics.h"
#include "core/timestamp.h"
#include "fakes/fake_apiserver.h"
#include "kube/event_recorder.h"
#include "kube/kube_client.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "nodepool/nodepool_reconciler.h"

using namespace std::chrono_literals;
using ballast::testing::FakeApiServer;
using nlohmann::json;

namespace {

constexpr auto kWait = 10s;

// Records every dispatch; answers 204 like GitHub, or `fail_status` while set.
class DispatchReceiver {
 public:
  explicit DispatchReceiver(ballast::net::IoPool& pool) {
    ballast::net::HttpServerOptions options;
    options.address = "127.0.0.1:0";
    auto started = ballast::net::HttpServer::start(pool, options, [this](const ballast::net::HttpRequest& request) {
      std::lock_guard lock(mutex_);
      payloads_.push_back(json::parse(request.body, nullptr, false));
      const auto authorization = request.headers.find("authorization");
      authorizations_.push_back(authorization == request.headers.end() ? "" : authorization->second);
      ballast::net::HttpResponse response;
      response.status = 204;
      return response;
    });
    server_ = std::move(started.value());
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/dispatches"; }
  std::vector<json> payloads() const {
    std::lock_guard lock(mutex_);
    return payloads_;
  }
  std::vector<std::string> authorizations() const {
    std::lock_guard lock(mutex_);
    return authorizations_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<json> payloads_;
  std::vector<std::string> authorizations_;
  std::unique_ptr<ballast::net::HttpServer> server_;
};

json node_group(const std::string& dispatch_url, int min_nodes, int max_nodes) {
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
            {"provisionTimeoutSeconds", 900}}}};
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

struct World {
  World() {
    server.start();
    pool.start();
    ballast::kube::KubeConfig config;
    config.server = server.url();
    client = std::make_unique<ballast::kube::KubeClient>(pool, config);
    receiver = std::make_unique<DispatchReceiver>(pool);
    server.put({{"apiVersion", "v1"},
                {"kind", "Secret"},
                {"metadata", {{"name", "dispatch-credentials"}, {"namespace", "ballast-system"}}},
                {"data", {{"token", "cGlwZWxpbmUtdG9rZW4="}}}});  // "pipeline-token"
    events = std::make_unique<ballast::kube::EventRecorder>(*client, "test");
  }
  ~World() {
    events.reset();
    client.reset();
    receiver.reset();
    pool.stop();
  }

  std::unique_ptr<ballast::nodepool::NodePoolReconciler> reconciler(bool dry_run = false) {
    ballast::nodepool::NodePoolOptions options;
    options.dry_run = dry_run;
    options.debounce = 20ms;
    options.interval = 200ms;
    // The production factory: provider settings from the NodeGroup, the token from its Secret.
    ballast::providers::ProviderContext context;
    context.transport = ballast::providers::http_transport(http);
    context.clock = &clock;
    auto made = std::make_unique<ballast::nodepool::NodePoolReconciler>(
        *client, *events, ballast::app::provider_factory(*client, "ballast-system", context), [] { return true; },
        metrics, options);
    made->start();
    return made;
  }

  std::vector<json> in_flight() const {
    auto group = server.get("ballast.dev/v1alpha1", "nodegroups", "", "general");
    if (!group || !group->contains("status")) return {};
    return (*group)["status"].value("inFlight", json::array()).get<std::vector<json>>();
  }

  FakeApiServer server;
  ballast::net::IoPool pool{1};
  ballast::net::HttpClient http{pool};
  ballast::SteadyClock clock;
  ballast::MetricsRegistry metrics;
  std::unique_ptr<ballast::kube::KubeClient> client;
  std::unique_ptr<DispatchReceiver> receiver;
  std::unique_ptr<ballast::kube::EventRecorder> events;
};

}  // namespace

TEST_CASE("pending pods make a dispatch request, and the node that joins ends the request", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  world.server.put(owned(ballast::testing::make_pod("ai", "busy", {{"app", "x"}}, "general-a")));
  world.server.put(node_group(world.receiver->url(), 1, 3));
  world.server.put(pending_pod("stt-0", "3"));
  world.server.put(pending_pod("stt-1", "3"));
  world.server.put(pending_pod("stt-2", "3"));
  auto reconciler = world.reconciler();

  REQUIRE(FakeApiServer::wait_for([&] { return !world.receiver->payloads().empty(); }, kWait));
  const json payload = world.receiver->payloads().back();
  CHECK(payload["event_type"] == "ballast-scale");
  CHECK(world.receiver->authorizations().back() == "Bearer pipeline-token");
  CHECK(payload["client_payload"]["nodegroup"] == "general");
  CHECK(payload["client_payload"]["desired"] == 3);  // the max: two more 4-CPU nodes for three 3-CPU pods, capped
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 2; }, kWait));

  // The pipeline brings the nodes up with the names ballast asked for.
  for (const auto& entry : world.in_flight()) world.server.put(group_node(entry["name"]));
  REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().empty(); }, kWait));
  std::this_thread::sleep_for(500ms);
  CHECK(world.receiver->payloads().size() == 2);  // nothing more was asked for
  const auto group = world.server.get("ballast.dev/v1alpha1", "nodegroups", "", "general");
  CHECK((*group)["status"]["lastScaleUp"].contains("time"));
}

TEST_CASE("a successor leader sees the in-flight request and orders no second node", "[nodepool]") {
  World world;
  world.server.put(node_group(world.receiver->url(), 0, 5));
  world.server.put(pending_pod("stt-0", "3"));
  {
    auto first = world.reconciler();
    REQUIRE(FakeApiServer::wait_for([&] { return world.in_flight().size() == 1; }, kWait));
  }  // the leader dies here: its provider's memory goes with it
  auto second = world.reconciler();
  REQUIRE(FakeApiServer::wait_for([&] { return second->passes() >= 3; }, kWait));
  CHECK(world.in_flight().size() == 1);
  CHECK(world.receiver->payloads().size() == 1);
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
  world.server.put(node_group(world.receiver->url(), 1, 3));
  auto reconciler = world.reconciler();

  REQUIRE(FakeApiServer::wait_for([&] { return !world.server.get("v1", "nodes", "", "general-b").has_value(); }, kWait));
  CHECK_FALSE(world.server.get("v1", "pods", "shop", "web-0").has_value());  // evicted, not deleted by force
  CHECK(world.server.count_requests("POST", "/api/v1/namespaces/shop/pods/web-0/eviction") >= 1);
  const auto payloads = world.receiver->payloads();
  REQUIRE_FALSE(payloads.empty());
  CHECK(payloads.back()["client_payload"]["remove"] == json::array({"general-b"}));
  CHECK(payloads.back()["client_payload"]["desired"] == 1);
  CHECK(world.server.get("v1", "nodes", "", "general-a").has_value());
}

TEST_CASE("a PDB that allows no disruption keeps the node, and says why", "[nodepool]") {
  World world;
  world.server.put(group_node("general-a"));
  world.server.put(group_node("general-b"));
  world.server.put(owned(ballast::testing::make_pod("db", "pg-0", {{"app", "pg"}}, "general-b")));
  world.server.put(ballast::testing::make_pdb("db", "pg", {{"app", "pg"}}, 1));
  world.server.put(node_group(world.receiver->url(), 1, 3));
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
  CHECK(world.receiver->payloads().empty());
}

TEST_CASE("dry-run plans and reports but writes nothing", "[nodepool]") {
  World world;
  world.server.put(node_group(world.receiver->url(), 0, 5));
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
  CHECK(world.receiver->payloads().empty());
  CHECK(world.in_flight().empty());
}
