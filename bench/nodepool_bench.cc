// Pending pod observed → provider create request, through the whole node-pool reconciler:
// the fake apiserver's watch, the informer, the debounce, both planners, the NodeGroup
// status write and the dispatch provider's POST to the fake GitHub endpoint. Each round
// adds one 3-CPU pending pod (it fits no registered or in-flight 4-CPU node), so each
// round causes exactly one create. Reported: p50/p95/p99/max over the rounds.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "app/node_providers.h"
#include "core/metrics.h"
#include "fakes/fake_apiserver.h"
#include "fakes/fake_providers.h"
#include "kube/event_recorder.h"
#include "kube/informer_factory.h"
#include "kube/kube_client.h"
#include "net/http_client.h"
#include "net/io_pool.h"
#include "nodepool/reconciler/nodepool_reconciler.h"

using namespace std::chrono_literals;
using nlohmann::json;

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::stoi(argv[1]) : 50;
  ballast::testing::FakeApiServer server;
  server.start();
  ballast::testing::FakeDispatch pipeline("token");
  pipeline.start();
  ballast::net::IoPool pool(1);
  pool.start();
  ballast::kube::KubeConfig config;
  config.server = server.url();
  ballast::kube::KubeClient client(pool, config);
  ballast::kube::EventRecorder events(client, "bench");
  ballast::net::HttpClient http(pool);
  ballast::SteadyClock clock;
  ballast::MetricsRegistry metrics;

  server.put({{"apiVersion", "v1"}, {"kind", "Secret"},
              {"metadata", {{"name", "pipeline"}, {"namespace", "ballast-system"}}},
              {"data", {{"token", "dG9rZW4="}}}});
  server.put({{"apiVersion", "ballast.dev/v1alpha1"},
              {"kind", "NodeGroup"},
              {"metadata", {{"name", "general"}}},
              {"spec",
               {{"minNodes", 0},
                {"maxNodes", 1000},
                {"provider", {{"type", "dispatch"}, {"credentialsSecret", {{"name", "pipeline"}}},
                              {"dispatch", {{"url", pipeline.url() + "/repos/o/r/dispatches"}}}}},
                {"offerings", json::array({{{"id", "V92"}, {"cpu", "4"}, {"memory", "8Gi"}}})},
                {"scaleUp", {{"podAgeSeconds", 0}}}}}});

  ballast::providers::ProviderContext context;
  context.transport = ballast::providers::http_transport(http);
  context.clock = &clock;
  ballast::nodepool::NodePoolOptions options;  // production defaults: 500 ms debounce, 10 s interval
  ballast::kube::InformerFactory informers(client);
  ballast::nodepool::NodePoolReconciler reconciler({client, informers, events, [] { return true; }, clock, metrics},
                                                   ballast::app::provider_factory(client, "ballast-system", context),
                                                   options);
  reconciler.start();
  ballast::testing::FakeApiServer::wait_for([&] { return reconciler.passes() >= 1; }, 30s);

  std::vector<double> latencies_ms;
  for (int round = 0; round < rounds; ++round) {
    json pod = ballast::testing::make_pod("ai", "stt-" + std::to_string(round), {{"app", "stt"}});
    pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "3";
    pod["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"},
                                                       {"name", "stt"}, {"uid", "u"}, {"controller", true}}});
    pod["status"]["conditions"] = json::array({{{"type", "PodScheduled"}, {"status", "False"},
                                                {"reason", "Unschedulable"}, {"lastTransitionTime", "2026-01-01T00:00:00Z"}}});
    const size_t before = pipeline.requests().size();
    const auto started = std::chrono::steady_clock::now();
    server.put(pod);
    if (!ballast::testing::FakeApiServer::wait_for([&] { return pipeline.requests().size() > before; }, 30s)) {
      std::cerr << "round " << round << ": no create request within 30 s\n";
      return 1;
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  }
  reconciler.stop();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const auto at = [&](double q) { return latencies_ms[static_cast<size_t>(q * (latencies_ms.size() - 1))]; };
  std::cout << "rounds: " << rounds << "\npending pod → create request: p50 " << at(0.5) << " ms, p95 " << at(0.95)
            << " ms, p99 " << at(0.99) << " ms, max " << latencies_ms.back() << " ms\n";
  pool.stop();
  return 0;
}
