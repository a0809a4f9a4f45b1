// The informer's cache against the fake apiserver: what it keeps of each object.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>

#include "fakes/fake_apiserver.h"
#include "kube/informer.h"
#include "kube/kube_client.h"
#include "net/io_pool.h"

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
  FakeApiServer server;
  server.start();
  ballast::net::IoPool pool{1};
  pool.start();
  ballast::kube::KubeConfig config;
  config.server = server.url();
  ballast::kube::KubeClient client(pool, config);

  server.put(with_managed_fields(ballast::testing::make_pod("default", "listed", {{"app", "web"}})));
  std::atomic<int> changes{0};
  ballast::kube::Informer informer(client, ballast::kube::pods(), {}, [&] { ++changes; });
  informer.start();
  REQUIRE(FakeApiServer::wait_for([&] { return informer.synced(); }, kWait));
  REQUIRE(server.wait_for_watches(1, kWait));

  server.put(with_managed_fields(ballast::testing::make_pod("default", "watched", {{"app", "web"}})));
  REQUIRE(FakeApiServer::wait_for([&] { return informer.objects().size() == 2; }, kWait));
  for (const auto& pod : informer.objects()) {
    INFO(pod.dump());
    CHECK_FALSE(pod["metadata"].contains("managedFields"));
    CHECK(pod["metadata"]["labels"]["app"] == "web");  // the rest of the object is kept
  }
  informer.stop();
  pool.stop();
}
