// The Kubernetes client, leader election and the PDB guard against the fake apiserver:
// real HTTP, real watches, the apiserver's resourceVersion/410/eviction semantics.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/node_providers.h"
#include "core/metrics.h"
#include "fakes/fake_apiserver.h"
#include "fakes/fake_apiserver_client.h"
#include "fakes/fake_clock.h"
#include "guard/reconciler/guard_reconciler.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/informer_factory.h"
#include "kube/kube_client.h"
#include "kube/leader_election.h"
#include "net/http_client.h"
#include "net/io_pool.h"
#include "nodepool/reconciler/nodepool_reconciler.h"

using namespace std::chrono_literals;
using ballast::testing::FakeApiServer;
using nlohmann::json;

namespace {

constexpr auto kWait = 5s;

json deployment(const std::string& ns, const std::string& name, int replicas, json labels = nullptr) {
  json object = {{"apiVersion", "apps/v1"},
                 {"kind", "Deployment"},
                 {"metadata", {{"name", name}, {"namespace", ns}}},
                 {"spec",
                  {{"replicas", replicas},
                   {"selector", {{"matchLabels", {{"app", name}}}}},
                   {"template", {{"metadata", {{"labels", {{"app", name}}}}}}}}}};
  if (!labels.is_null()) object["metadata"]["labels"] = labels;
  return object;
}

// A KubeClient on the fake server, with what the tests read back from the server.
struct Cluster : ballast::testing::FakeApiServerWithClient {
  std::optional<json> pdb(const std::string& ns, const std::string& name) const {
    return server.get("policy/v1", "poddisruptionbudgets", ns, name);
  }
  bool has_event(const std::string& reason) const {
    for (const auto& event : server.list("events")) {
      if (event.value("reason", "") == reason) return true;
    }
    return false;
  }
};

struct Guard {
  explicit Guard(Cluster& cluster, bool dry_run = false)
      : events(*cluster.client, "test"),
        informers(*cluster.client),
        reconciler({*cluster.client, informers, events, [] { return true; }, clock, metrics},
                   std::make_shared<const ballast::policy::TierPolicy>(ballast::policy::default_policy()),
                   options(dry_run)) {
    reconciler.start();
  }
  static ballast::kube::ControllerOptions options(bool dry_run) {
    ballast::kube::ControllerOptions options;
    options.dry_run = dry_run;
    options.debounce = 10ms;
    options.interval = 500ms;
    options.retry = {10ms, 500ms};
    return options;
  }
  ballast::SteadyClock clock;
  ballast::MetricsRegistry metrics;
  ballast::kube::EventRecorder events;
  ballast::kube::InformerFactory informers;
  ballast::guard::GuardReconciler reconciler;
};

}  // namespace

TEST_CASE("the client lists in pages and watches from the list's resourceVersion", "[kube]") {
  Cluster cluster;
  for (int i = 0; i < 7; ++i) cluster.server.put(deployment("web", "d" + std::to_string(i), 1));
  ballast::kube::ListOptions options;
  options.page_size = 3;
  std::vector<nlohmann::json> items;
  auto resource_version = cluster.client->list(ballast::kube::deployments(), "", options,
                                               [&items](nlohmann::json&& item) { items.push_back(std::move(item)); });
  REQUIRE(resource_version.ok());
  CHECK(items.size() == 7);
  CHECK(items[0]["kind"] == "Deployment");
  CHECK(cluster.server.count_requests("GET", "/apis/apps/v1/deployments") == 3);

  std::mutex mutex;
  std::vector<std::string> seen;
  std::optional<ballast::Status> ended;
  ballast::kube::WatchOptions watch;
  watch.resource_version = *resource_version;
  auto handle = cluster.client->watch(
      ballast::kube::deployments(), "web", watch,
      [&](ballast::kube::WatchEvent event) {
        std::lock_guard lock(mutex);
        seen.push_back(event.type + " " + event.object["metadata"].value("name", ""));
      },
      [&](ballast::Status status) {
        std::lock_guard lock(mutex);
        ended = status;
      });
  REQUIRE(cluster.server.wait_for_watches(1, kWait));
  cluster.server.put(deployment("web", "new", 2));
  cluster.server.remove("apps/v1", "deployments", "web", "d0");
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        std::lock_guard lock(mutex);
        return seen.size() >= 2;
      },
      kWait));
  {
    std::lock_guard lock(mutex);
    CHECK(seen[0] == "ADDED new");
    CHECK(seen[1] == "DELETED d0");
  }
  cluster.server.compact();
  cluster.server.drop_watches();
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        std::lock_guard lock(mutex);
        return ended.has_value();
      },
      kWait));
  CHECK_FALSE(ended->ok());

  std::optional<ballast::Status> expired;
  auto stale = cluster.client->watch(
      ballast::kube::deployments(), "web", watch, [](ballast::kube::WatchEvent) {},
      [&](ballast::Status status) {
        std::lock_guard lock(mutex);
        expired = status;
      });
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        std::lock_guard lock(mutex);
        return expired.has_value();
      },
      kWait));
  REQUIRE_FALSE(expired->ok());
  CHECK(expired->error().code == ballast::ErrorCode::kExpired);
}

TEST_CASE("the client maps apiserver answers to error codes and eviction outcomes", "[kube]") {
  Cluster cluster;
  auto& client = *cluster.client;
  const auto missing = client.get(ballast::kube::deployments(), "web", "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ballast::ErrorCode::kNotFound);

  const auto created = client.create(ballast::kube::deployments(), "web", deployment("web", "api", 2));
  REQUIRE(created.ok());
  const auto again = client.create(ballast::kube::deployments(), "web", deployment("web", "api", 2));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == ballast::ErrorCode::kAlreadyExists);

  json stale = *created;
  stale["spec"]["replicas"] = 3;
  REQUIRE(client.update(ballast::kube::deployments(), "web", stale).ok());
  stale["spec"]["replicas"] = 4;
  const auto conflict = client.update(ballast::kube::deployments(), "web", stale);
  REQUIRE_FALSE(conflict.ok());
  CHECK(conflict.error().code == ballast::ErrorCode::kConflict);

  const auto patched = client.patch(ballast::kube::deployments(), "web", "api", ballast::kube::PatchType::kMerge,
                                    {{"metadata", {{"labels", {{"tier", "x"}}}}}});
  REQUIRE(patched.ok());
  CHECK((*patched)["metadata"]["labels"]["tier"] == "x");

  cluster.server.fail_next("GET", "/apis/apps/v1/namespaces/web/deployments/api", 429);
  const auto throttled = client.get(ballast::kube::deployments(), "web", "api");
  REQUIRE_FALSE(throttled.ok());
  CHECK(throttled.error().code == ballast::ErrorCode::kTooManyRequests);

  cluster.server.put(ballast::testing::make_pod("db", "pg-0", {{"app", "pg"}}, "n1", true));
  cluster.server.put(ballast::testing::make_pod("db", "pg-1", {{"app", "pg"}}, "n2", true));
  cluster.server.put(ballast::testing::make_pdb("db", "pg", {{"app", "pg"}}, 2));
  CHECK(client.evict("db", "pg-0", std::nullopt).value() == ballast::kube::EvictionResult::kBlockedByPdb);
  cluster.server.put(ballast::testing::make_pdb("db", "pg-extra", {{"app", "pg"}}, 1));
  CHECK(client.evict("db", "pg-0", std::nullopt).value() == ballast::kube::EvictionResult::kMultiplePdbs);
  REQUIRE(cluster.server.remove("policy/v1", "poddisruptionbudgets", "db", "pg"));
  CHECK(client.evict("db", "pg-0", std::nullopt).value() == ballast::kube::EvictionResult::kEvicted);
  CHECK(client.evict("db", "pg-0", std::nullopt).value() == ballast::kube::EvictionResult::kPodGone);

  CHECK(client.serves(ballast::kube::deployments()).value());
  cluster.server.set_group_absent("keda.sh");
  CHECK_FALSE(client.serves(ballast::kube::scaled_objects()).value());

  REQUIRE(client.remove(ballast::kube::deployments(), "web", "api", {}).ok());
  CHECK_FALSE(cluster.server.get("apps/v1", "deployments", "web", "api").has_value());
}

TEST_CASE("an informer survives dropped watches and relists after 410 without losing objects", "[kube]") {
  Cluster cluster;
  cluster.server.put(deployment("web", "a", 1));
  std::atomic<int> changes{0};
  ballast::kube::Informer::Options options;
  options.retry_backoff = 10ms;
  ballast::kube::Informer informer(*cluster.client, ballast::kube::deployments(), options, [&] { ++changes; });
  informer.start();
  const auto names = [&] {
    std::set<std::string> out;
    for (const auto& object : informer.objects()) out.insert(object["metadata"]["name"].get<std::string>());
    return out;
  };
  REQUIRE(FakeApiServer::wait_for([&] { return informer.synced(); }, kWait));
  REQUIRE(cluster.server.wait_for_watches(1, kWait));

  cluster.server.drop_watches();
  cluster.server.put(deployment("web", "b", 1));  // while no watch is open
  REQUIRE(FakeApiServer::wait_for([&] { return names() == std::set<std::string>{"a", "b"}; }, kWait));
  CHECK(informer.list_count() == 1);  // resumed from its resourceVersion, no relist

  // Changes it never saw are compacted away while it cannot reconnect: its resume gets 410.
  REQUIRE(cluster.server.wait_for_watches(1, kWait));
  cluster.server.fail_next("GET", "/apis/apps/v1/deployments", 503, 3);
  cluster.server.drop_watches();
  cluster.server.remove("apps/v1", "deployments", "web", "a");
  cluster.server.put(deployment("web", "c", 1));
  cluster.server.compact();
  REQUIRE(FakeApiServer::wait_for([&] { return names() == std::set<std::string>{"b", "c"}; }, kWait));
  CHECK(informer.list_count() == 2);  // the resume got 410 and relisted
  informer.stop();
}

TEST_CASE("the guard gives workloads PDBs that follow their replicas and opt-outs", "[guard]") {
  Cluster cluster;
  Guard guard(cluster);
  cluster.server.put(deployment("shop", "web", 3));
  REQUIRE(FakeApiServer::wait_for([&] { return cluster.pdb("shop", "web-ballast").has_value(); }, kWait));
  auto pdb = *cluster.pdb("shop", "web-ballast");
  CHECK(pdb["spec"]["minAvailable"] == 1);
  CHECK(pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow");
  CHECK(pdb["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "ballast");
  CHECK(pdb["metadata"]["ownerReferences"][0]["name"] == "web");

  cluster.server.patch_merge("apps/v1", "deployments", "shop", "web", {{"spec", {{"replicas", 1}}}});
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        auto current = cluster.pdb("shop", "web-ballast");
        return current && current->at("spec").contains("maxUnavailable");
      },
      kWait));
  CHECK(cluster.pdb("shop", "web-ballast")->at("spec")["maxUnavailable"] == 1);

  cluster.server.patch_merge("apps/v1", "deployments", "shop", "web",
                             {{"metadata", {{"annotations", {{"ballast.dev/defaults", "off"}}}}}});
  REQUIRE(FakeApiServer::wait_for([&] { return !cluster.pdb("shop", "web-ballast").has_value(); }, kWait));
  CHECK(FakeApiServer::wait_for([&] { return cluster.has_event("PdbDeleted"); }, kWait));

  // Every policy PriorityClass exists; one made by someone else with another value stays.
  REQUIRE(FakeApiServer::wait_for(
      [&] { return cluster.server.get("scheduling.k8s.io/v1", "priorityclasses", "", "platform-normal").has_value(); },
      kWait));
  CHECK(cluster.server.get("scheduling.k8s.io/v1", "priorityclasses", "", "batch-low")->at("value") == 1000);
}

TEST_CASE("the guard leaves pods a user PDB already covers and never touches foreign PDBs", "[guard]") {
  Cluster cluster;
  cluster.server.put(ballast::testing::make_pdb("shop", "web-by-hand", {{"app", "web"}}, 1));
  cluster.server.put(deployment("shop", "web", 3));
  cluster.server.put(deployment("shop", "api", 2));
  Guard guard(cluster);
  REQUIRE(FakeApiServer::wait_for([&] { return cluster.pdb("shop", "api-ballast").has_value(); }, kWait));
  CHECK_FALSE(cluster.pdb("shop", "web-ballast").has_value());
  CHECK(cluster.pdb("shop", "web-by-hand").has_value());
  REQUIRE(FakeApiServer::wait_for([&] { return cluster.has_event("PdbOverlap"); }, kWait));
}

TEST_CASE("the guard keeps converging through dropped watches and 410 relists", "[guard]") {
  Cluster cluster;
  Guard guard(cluster);
  cluster.server.put(deployment("shop", "one", 2));
  REQUIRE(FakeApiServer::wait_for([&] { return cluster.pdb("shop", "one-ballast").has_value(); }, kWait));
  REQUIRE(cluster.server.wait_for_watches(5, kWait));
  cluster.server.compact();
  cluster.server.drop_watches();
  cluster.server.put(deployment("shop", "two", 2));
  cluster.server.remove("apps/v1", "deployments", "shop", "one");
  REQUIRE(FakeApiServer::wait_for(
      [&] { return cluster.pdb("shop", "two-ballast").has_value() && !cluster.pdb("shop", "one-ballast").has_value(); },
      kWait));
}

TEST_CASE("the guard in dry-run writes no PDB and says what it would do", "[guard]") {
  Cluster cluster;
  Guard guard(cluster, true);
  cluster.server.put(deployment("shop", "web", 3));
  REQUIRE(FakeApiServer::wait_for([&] { return cluster.has_event("DryRunPdb"); }, kWait));
  CHECK_FALSE(cluster.pdb("shop", "web-ballast").has_value());
  CHECK(cluster.server.list("priorityclasses").empty());
}

TEST_CASE("the guard and the node pool share one watch per resource and each hears its changes", "[informer]") {
  Cluster cluster;
  ballast::SteadyClock clock;
  ballast::MetricsRegistry metrics;
  ballast::kube::EventRecorder events(*cluster.client, "test");
  ballast::net::HttpClient http(cluster.pool);
  ballast::providers::ProviderContext providers;
  providers.transport = ballast::providers::http_transport(http);
  providers.clock = &clock;
  ballast::kube::InformerFactory informers(*cluster.client);
  const ballast::kube::ControllerContext context{*cluster.client, informers, events,
                                                 [] { return true; }, clock, metrics};
  // Passes only when poked: an hour between interval passes.
  ballast::kube::ControllerOptions options;
  options.interval = 1h;
  options.debounce = 10ms;
  ballast::guard::GuardReconciler guard(
      context, std::make_shared<const ballast::policy::TierPolicy>(ballast::policy::default_policy()), options);
  ballast::nodepool::NodePoolOptions nodepool_options;
  nodepool_options.controller = options;
  ballast::nodepool::NodePoolReconciler nodepool(
      context, ballast::app::provider_factory(*cluster.client, "ballast-system", providers), nodepool_options);
  guard.start();
  nodepool.start();
  REQUIRE(FakeApiServer::wait_for([&] { return guard.passes() >= 1 && nodepool.passes() >= 1; }, kWait));

  // Guard: deployments, statefulsets, PDBs, namespaces, priorityclasses, scaledobjects;
  // node pool: nodes, pods, PDBs, daemonsets, PVs, PVCs, nodegroups. PDBs once, not twice.
  constexpr size_t kResources = 12;
  REQUIRE(cluster.server.wait_for_watches(kResources, kWait));
  std::map<std::string, int> watches;  // path → watch requests
  for (const auto& request : cluster.server.requests()) {
    if (request.watch) ++watches[request.path];
  }
  CHECK(watches.size() == kResources);
  for (const auto& [path, count] : watches) {
    INFO(path);
    CHECK(count == 1);
  }
  CHECK(watches.count("/apis/policy/v1/poddisruptionbudgets") == 1);
  CHECK(watches.count("/api/v1/pods") == 1);

  // A change to the shared PDB cache wakes both; once the guard stops, only the node pool.
  auto guard_passes = guard.passes();
  auto nodepool_passes = nodepool.passes();
  cluster.server.put(ballast::testing::make_pdb("shop", "by-hand", {{"app", "web"}}, 1));
  REQUIRE(FakeApiServer::wait_for(
      [&] { return guard.passes() > guard_passes && nodepool.passes() > nodepool_passes; }, kWait));
  guard.stop();
  guard_passes = guard.passes();
  nodepool_passes = nodepool.passes();
  cluster.server.put(ballast::testing::make_pdb("shop", "by-hand-2", {{"app", "api"}}, 1));
  REQUIRE(FakeApiServer::wait_for([&] { return nodepool.passes() > nodepool_passes; }, kWait));
  CHECK(guard.passes() == guard_passes);
  nodepool.stop();
}

TEST_CASE("two candidates elect one leader and a dead leader is replaced after the lease duration", "[leader]") {
  Cluster cluster;
  ballast::testing::FakeClock clock_a, clock_b;
  ballast::kube::LeaderElectionOptions options;
  options.ns = "ballast-system";
  options.identity = "a";
  ballast::kube::LeaderElector a(*cluster.client, clock_a, options, {});
  options.identity = "b";
  ballast::kube::LeaderElector b(*cluster.client, clock_b, options, {});

  CHECK(a.step());
  CHECK_FALSE(b.step());
  clock_a.advance(2s);
  clock_b.advance(2s);
  CHECK(a.step());  // renews
  CHECK_FALSE(b.step());

  // a dies without releasing: b waits a full lease duration on its own clock.
  clock_b.advance(14s);
  CHECK_FALSE(b.step());
  clock_b.advance(2s);
  CHECK(b.step());
  const auto lease = cluster.server.get("coordination.k8s.io/v1", "leases", "ballast-system", "ballast-leader");
  CHECK(lease->at("spec")["holderIdentity"] == "b");
  CHECK(lease->at("spec")["leaseTransitions"] == 1);

  // a comes back after its renew deadline: it steps down instead of fighting.
  clock_a.advance(11s);
  CHECK_FALSE(a.step());
  CHECK_FALSE(a.is_leader());

  // b releases on shutdown: a takes over at its next round.
  b.stop();
  CHECK(a.step());
}

TEST_CASE("ballast serve runs the guard against the apiserver and releases its lease on SIGTERM", "[binary]") {
  Cluster cluster;
  char pattern[] = "/tmp/ballast-guard-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string kubeconfig = dir + "/kubeconfig";
  std::ofstream(kubeconfig) << "current-context: fake\ncontexts: [{name: fake, context: {cluster: fake}}]\n"
                               "clusters: [{name: fake, cluster: {server: \""
                            << cluster.server.url() << "\"}}]\n";
  cluster.server.put(deployment("shop", "web", 3));
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    execl(BALLAST_BINARY, BALLAST_BINARY, "serve", "--kubeconfig", kubeconfig.c_str(), "--components", "guard",
          "--admin-address", "127.0.0.1:0", "--namespace", "ballast-system", "--log-level", "warn", nullptr);
    _exit(127);
  }
  const bool made = FakeApiServer::wait_for([&] { return cluster.pdb("shop", "web-ballast").has_value(); }, 10s);
  REQUIRE(kill(child, SIGTERM) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  std::filesystem::remove_all(dir);
  CHECK(made);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  const auto lease = cluster.server.get("coordination.k8s.io/v1", "leases", "ballast-system", "ballast-leader");
  REQUIRE(lease.has_value());
  CHECK(lease->at("spec")["holderIdentity"] == "");
}
