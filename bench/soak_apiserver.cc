// The apiserver side of bench/soak.sh: the fake apiserver (tests/fakes) holding --nodes Ready
// nodes and --pods Running pods spread over them, with churn for --seconds: every second
// --churn pods are replaced (a DELETED and an ADDED event each), as many flip readiness
// (MODIFIED) and a tenth as many nodes change a condition's heartbeat (MODIFIED). Writes a
// kubeconfig for `ballast serve --kubeconfig`, prints "ready" once the store is filled, then one
// line of totals at the end (or on SIGTERM/SIGINT).
// Usage: soak_apiserver --kubeconfig PATH [--nodes N] [--pods P] [--churn C] [--seconds S]
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "fakes/fake_apiserver.h"

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

volatile std::sig_atomic_t stopping = 0;

const char* const kNamespaces[] = {"shop", "ai-services", "databases", "monitoring", "jobs"};

std::string node_name(int index) { return "node-" + std::to_string(index); }

json pod(int generation, int index, int nodes, bool ready) {
  const std::string app = "app-" + std::to_string(index % 300);
  return ballast::testing::make_pod(kNamespaces[index % 5], "pod-" + std::to_string(index) + "-" + std::to_string(generation),
                                    {{"app", app}}, node_name(index % nodes), ready);
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig;
  int nodes = 1000, pods = 30000, churn = 100, seconds = 600;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--kubeconfig") kubeconfig = value;
    else if (key == "--nodes") nodes = std::stoi(value);
    else if (key == "--pods") pods = std::stoi(value);
    else if (key == "--churn") churn = std::stoi(value);
    else if (key == "--seconds") seconds = std::stoi(value);
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      return 2;
    }
  }
  if (kubeconfig.empty() || nodes < 1 || pods < 1) {
    std::fprintf(stderr, "usage: soak_apiserver --kubeconfig PATH [--nodes N] [--pods P] [--churn C] [--seconds S]\n");
    return 2;
  }
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });

  ballast::testing::FakeApiServerOptions options;
  options.bookmark_interval = 60s;
  ballast::testing::FakeApiServer server(options);
  server.start();
  for (int n = 0; n < nodes; ++n) server.put(ballast::testing::make_node(node_name(n), {{"pool", "general"}}, "8", "32Gi"));
  std::vector<int> generation(static_cast<size_t>(pods), 0);
  std::vector<bool> ready(static_cast<size_t>(pods), true);
  for (int p = 0; p < pods; ++p) server.put(pod(0, p, nodes, true));
  std::ofstream(kubeconfig) << "current-context: soak\ncontexts: [{name: soak, context: {cluster: soak}}]\n"
                               "clusters: [{name: soak, cluster: {server: \"" << server.url() << "\"}}]\n";
  std::printf("ready: %s, %d nodes, %d pods\n", server.url().c_str(), nodes, pods);
  std::fflush(stdout);

  // Ten ticks a second, each a tenth of the second's changes, walking the pods in order.
  long replaced = 0, flipped = 0, heartbeats = 0;
  int next_pod = 0, next_node = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int tick = 0; tick < seconds * 10 && !stopping; ++tick) {
    std::this_thread::sleep_until(start + tick * 100ms);
    for (int k = 0; k < churn / 10; ++k) {
      const int victim = next_pod;
      next_pod = (next_pod + 1) % pods;
      const auto v = static_cast<size_t>(victim);
      const json old = pod(generation[v], victim, nodes, ready[v]);
      server.remove("v1", "pods", old["metadata"]["namespace"].get<std::string>(), old["metadata"]["name"].get<std::string>());
      server.put(pod(++generation[v], victim, nodes, ready[v]));
      ++replaced;
      const int flip = (victim + pods / 2) % pods;
      const auto f = static_cast<size_t>(flip);
      ready[f] = !ready[f];
      server.put(pod(generation[f], flip, nodes, ready[f]));
      ++flipped;
    }
    for (int k = 0; k < std::max(1, churn / 100); ++k) {
      json node = ballast::testing::make_node(node_name(next_node), {{"pool", "general"}}, "8", "32Gi");
      node["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:" + std::to_string(10 + tick % 50) + "Z";
      server.put(std::move(node));
      next_node = (next_node + 1) % nodes;
      ++heartbeats;
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("churn: %.0f s, pods replaced %ld, readiness flips %ld, node heartbeats %ld, watches open at the end %zu\n",
              elapsed, replaced, flipped, heartbeats, server.open_watches());
  server.stop();
  return 0;
}
