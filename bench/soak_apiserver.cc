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
#include "soak_cluster.h"

using namespace std::chrono_literals;
using nlohmann::json;
using ballast::bench::soak_node;
using ballast::bench::soak_pod;

namespace {

volatile std::sig_atomic_t stopping = 0;

}  // namespace

int main(int argc, char** argv) {
  ballast::bench::SoakOptions soak;
  if (!ballast::bench::parse_soak_options(argc, argv, false, soak)) {
    std::fprintf(stderr, "usage: soak_apiserver --kubeconfig PATH [--nodes N] [--pods P] [--churn C] [--seconds S]\n");
    return 2;
  }
  const int nodes = soak.nodes, pods = soak.pods, churn = soak.churn, seconds = soak.seconds;
  std::signal(SIGTERM, [](int) { stopping = 1; });
  std::signal(SIGINT, [](int) { stopping = 1; });

  ballast::testing::FakeApiServerOptions options;
  options.bookmark_interval = 60s;
  ballast::testing::FakeApiServer server(options);
  server.start();
  for (int n = 0; n < nodes; ++n) server.put(soak_node(n));
  for (int p = 0; p < pods; ++p) server.put(soak_pod(0, p, nodes, true));
  std::ofstream(soak.kubeconfig) << "current-context: soak\ncontexts: [{name: soak, context: {cluster: soak}}]\n"
                               "clusters: [{name: soak, cluster: {server: \"" << server.url() << "\"}}]\n";
  std::printf("ready: %s, %d nodes, %d pods\n", server.url().c_str(), nodes, pods);
  std::fflush(stdout);

  // Ten ticks a second, each a tenth of the second's changes.
  ballast::bench::SoakSchedule schedule(nodes, pods, churn);
  long replaced = 0, flipped = 0, heartbeats = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int tick = 0; tick < seconds * 10 && !stopping; ++tick) {
    std::this_thread::sleep_until(start + tick * 100ms);
    for (const auto& change : schedule.tick()) {
      using Kind = ballast::bench::SoakChange::Kind;
      if (change.kind == Kind::kReplace) {
        const json old = soak_pod(change.generation - 1, change.index, nodes, change.ready);
        server.remove("v1", "pods", old["metadata"]["namespace"].get<std::string>(),
                      old["metadata"]["name"].get<std::string>());
        server.put(soak_pod(change.generation, change.index, nodes, change.ready));
        ++replaced;
      } else if (change.kind == Kind::kFlip) {
        server.put(soak_pod(change.generation, change.index, nodes, change.ready));
        ++flipped;
      } else {
        json node = soak_node(change.index);
        node["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:" + std::to_string(10 + tick % 50) + "Z";
        server.put(std::move(node));
        ++heartbeats;
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("churn: %.0f s, pods replaced %ld, readiness flips %ld, node heartbeats %ld, watches open at the end %zu\n",
              elapsed, replaced, flipped, heartbeats, server.open_watches());
  server.stop();
  return 0;
}
