// The informer's cache against the fake apiserver: what it keeps of each object.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>

#include "fakes/fake_apiserver_client.h"
#include "kube/informer.h"

using ballast::testing::FakeApiServer;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr auto kWait = 10s;

json with_managed_fields(json pod) {
  pod["metadata"]["managedFields"] = json::array(
      {{{"manager", "kube-scheduler"}, {"operation", "Update"}, {"fieldsType", "FieldsV1"},
        {"fieldsV1", {{"f:status", {{"f:conditions", json::object()}}}}}}});
  return pod;
}

}  // namespace

TEST_CASE("the cache keeps listed and watched objects without their managedFields", "[informer]") {
  ballast::testing::FakeApiServerWithClient rig;
  auto& server = rig.server;
  auto& client = *rig.client;

  server.put(with_managed_fields(ballast::testing::make_pod("default", "listed", {{"app", "web"}})));
  std::atomic<int> changes{0};
  ballast::kube::Informer informer(client, ballast::kube::pods(), {}, [&] { ++changes; });
  informer.start();
  REQUIRE(FakeApiServer::wait_for([&] { return informer.synced(); }, kWait));
  REQUIRE(server.wait_for_watches(1, kWait));

  server.put(with_managed_fields(ballast::testing::make_pod("default", "watched", {{"app", "web"}})));
  REQUIRE(FakeApiServer::wait_for([&] { return informer.objects().size() == 2; }, kWait));
  for (const auto& cached : informer.objects()) {
    const json pod = ballast::kube::expanded(cached);
    INFO(pod.dump());
    CHECK_FALSE(pod["metadata"].contains("managedFields"));
    CHECK(pod["metadata"]["labels"]["app"] == "web");  // the rest of the object is kept
  }
  informer.stop();
}

TEST_CASE("a snapshot of the cache shares its objects and keeps what it saw when they change", "[informer]") {
  ballast::testing::FakeApiServerWithClient rig;
  auto& server = rig.server;
  auto& client = *rig.client;

  server.put(ballast::testing::make_pod("default", "a", {{"app", "web"}}));
  server.put(ballast::testing::make_pod("default", "b", {{"app", "web"}}));
  ballast::kube::Informer informer(client, ballast::kube::pods(), {});
  informer.start();
  REQUIRE(FakeApiServer::wait_for([&] { return informer.objects().size() == 2; }, kWait));
  REQUIRE(server.wait_for_watches(1, kWait));

  const auto before = informer.objects();
  // Two snapshots of an unchanged cache hold the same objects, not copies of them.
  CHECK(&informer.objects()[0] == &before[0]);
  CHECK(&informer.objects()[1] == &before[1]);

  server.put(ballast::testing::make_pod("default", "b", {{"app", "api"}}));
  const auto label = [](const json& cached) { return ballast::kube::expanded(cached)["metadata"]["labels"]["app"]; };
  REQUIRE(FakeApiServer::wait_for([&] { return label(informer.objects()[1]) == "api"; }, kWait));
  const auto after = informer.objects();
  CHECK(&after[0] == &before[0]);      // unchanged: still shared
  CHECK(label(before[1]) == "web");    // the old snapshot still sees what it saw
  CHECK(&after[1] != &before[1]);
  informer.stop();
}

TEST_CASE("the cache keeps of pods and nodes what its readers read", "[informer]") {
  ballast::testing::FakeApiServerWithClient rig;
  auto& server = rig.server;
  auto& client = *rig.client;

  json pod = ballast::testing::make_pod("default", "web-1", {{"app", "web"}}, "node-a");
  auto& container = pod["spec"]["containers"][0];
  container["env"] = json::array({{{"name", "TOKEN"}, {"value", "s3cr3t"}}});
  container["command"] = json::array({"/bin/server", "--port=80"});
  container["livenessProbe"] = {{"httpGet", {{"path", "/healthz"}, {"port", 80}}}};
  container["ports"] = json::array({{{"containerPort", 80}, {"hostPort", 8080}}});
  pod["spec"]["initContainers"] = json::array(
      {{{"name", "proxy"}, {"image", "envoy"}, {"restartPolicy", "Always"}, {"resources", {{"requests", {{"cpu", "50m"}}}}}}});
  pod["spec"]["volumes"] = json::array(
      {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data-web-1"}}}},
       {{"name", "token"}, {"projected", {{"sources", json::array({{{"serviceAccountToken", {{"path", "token"}}}}})}}}}});
  pod["spec"]["serviceAccountName"] = "web";
  pod["spec"]["tolerations"] = json::array({{{"key", "node.kubernetes.io/not-ready"}, {"operator", "Exists"}}});
  pod["metadata"]["uid"] = "0d3c1f4e-uid";
  pod["metadata"]["generateName"] = "web-";
  pod["metadata"]["annotations"] = {{"cluster-autoscaler.kubernetes.io/safe-to-evict", "false"}};
  pod["metadata"]["ownerReferences"] =
      json::array({{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web-5d9"}, {"controller", true}}});
  pod["status"]["qosClass"] = "Burstable";
  const json unschedulable = {{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"},
                              {"lastTransitionTime", "2026-12-07T09:00:00Z"}};
  pod["status"]["conditions"] = json::array(
      {{{"type", "Ready"}, {"status", "False"}}, unschedulable, {{"type", "Initialized"}, {"status", "True"}}});
  pod["status"]["containerStatuses"] = json::array({{{"name", "main"}, {"restartCount", 3}, {"imageID", "sha256:1"}}});
  server.put(pod);
  json node = ballast::testing::make_node("node-a");
  node["status"]["images"] = json::array({{{"names", json::array({"busybox@sha256:1"})}, {"sizeBytes", 1000}}});
  server.put(node);

  ballast::kube::Informer pods(client, ballast::kube::pods(), {});
  ballast::kube::Informer nodes(client, ballast::kube::nodes(), {});
  pods.start();
  nodes.start();
  REQUIRE(FakeApiServer::wait_for([&] { return pods.synced() && nodes.synced(); }, kWait));

  // A pod is kept as its JSON text, an eighth of its parsed size; other kinds parsed.
  REQUIRE(pods.objects().front().is_string());
  CHECK(nodes.objects().front().is_object());
  const json cached = ballast::kube::expanded(pods.objects().front());
  INFO(cached.dump());
  const json& main = cached["spec"]["containers"][0];
  CHECK(main == json{{"name", "main"}, {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}}}});
  CHECK(cached["spec"]["initContainers"][0] ==
        json{{"name", "proxy"}, {"restartPolicy", "Always"}, {"resources", {{"requests", {{"cpu", "50m"}}}}}});
  CHECK(cached["spec"]["volumes"][0] == pod["spec"]["volumes"][0]);
  CHECK(cached["spec"]["volumes"][1] == json{{"name", "token"}, {"projected", json::object()}});  // its kind only
  CHECK(cached["spec"]["tolerations"] == pod["spec"]["tolerations"]);
  CHECK_FALSE(cached["spec"].contains("serviceAccountName"));
  CHECK_FALSE(cached["status"].contains("qosClass"));
  CHECK(cached["spec"]["nodeName"] == "node-a");
  CHECK(cached["status"]["conditions"] == json::array({unschedulable}));  // the only condition read
  const json& metadata = cached["metadata"];
  CHECK(metadata["annotations"] == pod["metadata"]["annotations"]);
  CHECK(metadata["ownerReferences"] == pod["metadata"]["ownerReferences"]);
  for (const char* unread : {"uid", "generateName", "resourceVersion", "creationTimestamp"}) {
    CHECK_FALSE(metadata.contains(unread));
  }
  CHECK_FALSE(cached["status"].contains("containerStatuses"));
  CHECK(cached["metadata"]["labels"]["app"] == "web");
  CHECK_FALSE(nodes.objects().front()["status"].contains("images"));
  CHECK(nodes.objects().front()["status"].contains("allocatable"));
  pods.stop();
  nodes.stop();
}

TEST_CASE("a list hands each page's items over before the next page is asked for", "[informer]") {
  ballast::testing::FakeApiServerWithClient rig;
  for (int i = 0; i < 5; ++i) rig.server.put(ballast::testing::make_pod("default", "p" + std::to_string(i), {}));
  ballast::kube::ListOptions options;
  options.page_size = 2;
  std::vector<size_t> pages_asked_at_each_item;
  std::vector<std::string> taken;
  auto resource_version = rig.client->list(ballast::kube::pods(), "", options, [&](json&& pod) {
    pages_asked_at_each_item.push_back(rig.server.count_requests("GET", "/api/v1/pods"));
    const json item = std::move(pod);
    taken.push_back(item["metadata"]["name"].get<std::string>());
  });
  REQUIRE(resource_version.ok());
  CHECK(pages_asked_at_each_item == std::vector<size_t>{1, 1, 2, 2, 3});
  CHECK(taken == std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"});
  CHECK_FALSE(resource_version->empty());
}
