// `ballast serve` replicas on loopback sharing session counters: over a static peer list,
// KEDA gets one total whichever replica it asks, through deaths, stalls and reconnects; over
// DNS; and over the EndpointSlices of a peers Service served by the fake apiserver.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <array>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "fakes/fake_apiserver.h"
#include "fakes/keda_client.h"
#include "fakes/serve_process.h"
#include "fakes/shell.h"
#include "demo/support/session_publisher.h"

using namespace std::chrono_literals;

namespace {

using ballast::sessions::SessionPublisher;
using ballast::testing::free_port;

constexpr const char* kToken = "peer-test-token";
// Past the peers' expiry bound (3 heartbeats of 1 s) with room for a loaded machine.
constexpr auto kConverge = 15s;

struct Replica {
  uint16_t grpc = free_port(), sessions = free_port(), admin = free_port();
  ballast::testing::ChildProcess process;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc), grpc::InsecureChannelCredentials()));

  void start(const std::string& tokens, const std::string& peers, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"serve",
                                     "--components",
                                     "scaler,sessions",
                                     "--grpc-address=127.0.0.1:" + std::to_string(grpc),
                                     "--sessions-address=127.0.0.1:" + std::to_string(sessions),
                                     "--admin-address=127.0.0.1:" + std::to_string(admin),
                                     "--sessions-token-file",
                                     tokens,
                                     "--log-level",
                                     "warn"};
    if (!peers.empty()) args.insert(args.end(), {"--peers", peers});
    args.insert(args.end(), extra.begin(), extra.end());
    process.start(BALLAST_BINARY, args);
  }

  std::unique_ptr<SessionPublisher> publish(double value, const std::string& id = {}) {
    auto publisher = SessionPublisher::connect("127.0.0.1", sessions, kToken, "/v1/sessions", id);
    REQUIRE(publisher.ok());
    REQUIRE((*publisher)->send(R"({"counter":"active","value":)" + std::to_string(value) + "}").ok());
    return std::move(*publisher);
  }
};

externalscaler::ScaledObjectRef sessions_ref() {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("signaling");
  ref.set_namespace_("apps");
  (*ref.mutable_scalermetadata())["source"] = "sessions";
  (*ref.mutable_scalermetadata())["counter"] = "active";
  (*ref.mutable_scalermetadata())["threshold"] = "10";
  return ref;
}

// Polls every listed replica as KEDA would until all answer `expected` (within `limit`);
// every poll must succeed, and no answer may exceed `ceiling` (a double count) on the way.
void all_reach(std::vector<Replica*> replicas, double expected, double ceiling,
               std::chrono::milliseconds limit = kConverge) {
  const auto ref = sessions_ref();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    bool all = true;
    for (Replica* replica : replicas) {
      const auto polled = ballast::testing::keda_poll(*replica->stub, ref);
      INFO("replica on port " << replica->grpc << ": " << polled.metrics_status.error_message());
      REQUIRE(polled.metrics_status.ok());
      REQUIRE(polled.value <= ceiling);
      all = all && polled.value == expected;
    }
    if (all) return;
    INFO("waiting for every replica to answer " << expected);
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(20ms);
  }
}

// SIGTERM to every replica: each drains and exits 0.
template <size_t N>
void stop_cleanly(std::array<Replica, N>& replicas) {
  for (auto& replica : replicas) replica.process.signal(SIGTERM);
  for (auto& replica : replicas) {
    const int status = replica.process.wait();
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}

}  // namespace

TEST_CASE("three replicas answer one total through deaths, stalls and reconnects", "[peers]") {
  ballast::testing::TempDir dir;
  const auto tokens = dir.write("tokens", std::string(kToken) + "\n");
  std::array<Replica, 3> r;
  std::string peers;
  for (const auto& replica : r) peers += (peers.empty() ? "" : ",") + ("127.0.0.1:" + std::to_string(replica.sessions));
  // Each replica gets the whole list, itself included: it must recognise itself.
  for (auto& replica : r) replica.start(tokens, peers);
  for (auto& replica : r) REQUIRE(ballast::testing::becomes_ready(replica.admin, 15s));

  auto on0 = r[0].publish(10);
  auto on1 = r[1].publish(20);
  auto on2 = r[2].publish(30);
  all_reach({&r[0], &r[1], &r[2]}, 60, 60);
  const auto metrics = ballast::testing::http_get(r[0].admin, "/metrics");
  CHECK(metrics.find("ballast_peers{state=\"up\"} 2") != std::string::npos);
  CHECK(metrics.find("ballast_peers{state=\"self\"} 1") != std::string::npos);

  SECTION("a publish on one replica wakes a StreamIsActive stream held by another") {
    grpc::ClientContext context;
    auto ref = sessions_ref();
    (*ref.mutable_scalermetadata())["counter"] = "wake";
    auto stream = r[1].stub->StreamIsActive(&context, ref);
    externalscaler::IsActiveResponse event;
    REQUIRE(stream->Read(&event));
    CHECK_FALSE(event.result());
    auto publisher = SessionPublisher::connect("127.0.0.1", r[0].sessions, kToken);
    REQUIRE(publisher.ok());
    REQUIRE((*publisher)->send(R"({"counter":"wake","value":1})").ok());
    REQUIRE(stream->Read(&event));
    CHECK(event.result());
    context.TryCancel();
  }

  SECTION("a publisher reconnecting with the same id to another replica counts once") {
    auto first = r[0].publish(7, "signaling-0");
    all_reach({&r[0], &r[1], &r[2]}, 67, 67);
    auto second = r[1].publish(7, "signaling-0");  // the first connection is still open
    all_reach({&r[0], &r[1], &r[2]}, 67, 67);
    first->close();
    all_reach({&r[0], &r[1], &r[2]}, 67, 67);
    second->close();
    all_reach({&r[0], &r[1], &r[2]}, 60, 67);
  }

  SECTION("a killed replica's share leaves, the survivors keep serving, and a restart rejoins") {
    REQUIRE(r[2].process.signal(SIGKILL));
    r[2].process.wait();
    on2.reset();
    all_reach({&r[0], &r[1]}, 30, 60);
    r[2].start(tokens, peers);
    REQUIRE(ballast::testing::becomes_ready(r[2].admin, 15s));
    all_reach({&r[0], &r[1], &r[2]}, 30, 30);
    auto again = r[2].publish(5);
    all_reach({&r[0], &r[1], &r[2]}, 35, 35);
  }

  SECTION("a replica stopped past the bound stops counting and comes back without double counting") {
    REQUIRE(r[1].process.signal(SIGSTOP));
    all_reach({&r[0], &r[2]}, 40, 60);
    const auto readyz = ballast::testing::http_get(r[0].admin, "/readyz");
    CHECK(readyz.find(" 200 ") != std::string::npos);
    CHECK(readyz.find("127.0.0.1:" + std::to_string(r[1].sessions)) != std::string::npos);
    CHECK(ballast::testing::http_get(r[0].admin, "/metrics").find("ballast_peers{state=\"missing\"} 1") !=
          std::string::npos);
    REQUIRE(r[1].process.signal(SIGCONT));
    all_reach({&r[0], &r[1], &r[2]}, 60, 60);
  }

  stop_cleanly(r);
}

TEST_CASE("replicas found through --peers-dns share their sessions, and a replica that resolves itself skips it",
          "[peers]") {
  ballast::testing::TempDir dir;
  const auto tokens = dir.write("tokens", std::string(kToken) + "\n");
  std::array<Replica, 2> r;
  // `localhost` resolves to replica 0 (and maybe to ::1, where nothing listens): replica 0
  // finds itself there, replica 1 finds replica 0; replica 0 reaches replica 1 statically.
  const std::string dns = "--peers-dns=localhost:" + std::to_string(r[0].sessions);
  r[0].start(tokens, "127.0.0.1:" + std::to_string(r[1].sessions), {dns});
  r[1].start(tokens, "", {dns});
  for (auto& replica : r) REQUIRE(ballast::testing::becomes_ready(replica.admin, 15s));
  auto on0 = r[0].publish(7);
  auto on1 = r[1].publish(5);
  all_reach({&r[0], &r[1]}, 12, 12);
  CHECK(ballast::testing::http_get(r[0].admin, "/metrics").find("ballast_peers{state=\"self\"} 1") !=
        std::string::npos);
}

namespace {

// The EndpointSlice the endpoints controller would make for one replica of the peers
// Service: each replica listens on its own loopback port, so each gets its own slice (the
// controller groups endpoints by port set).
nlohmann::json peer_slice(const std::string& name, uint16_t port, const nlohmann::json& endpoints) {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name}, {"namespace", "ballast-system"}, {"labels", {{"kubernetes.io/service-name", "ballast-peers"}}}}},
          {"addressType", "IPv4"},
          {"ports", {{{"name", "sessions"}, {"port", port}, {"protocol", "TCP"}}}},
          {"endpoints", endpoints}};
}

nlohmann::json loopback_endpoint(bool ready) {
  return nlohmann::json::array({{{"addresses", {"127.0.0.1"}}, {"conditions", {{"ready", ready}}}}});
}

// Every listed replica keeps answering `expected` for `hold` (nothing comes back by itself).
void all_hold(std::vector<Replica*> replicas, double expected, std::chrono::milliseconds hold) {
  const auto ref = sessions_ref();
  const auto until = std::chrono::steady_clock::now() + hold;
  while (std::chrono::steady_clock::now() < until) {
    for (Replica* replica : replicas) {
      const auto polled = ballast::testing::keda_poll(*replica->stub, ref);
      REQUIRE(polled.metrics_status.ok());
      REQUIRE(polled.value == expected);
    }
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

TEST_CASE("replicas found through the peers Service's EndpointSlices follow the slices", "[peers]") {
  ballast::testing::FakeApiServer apiserver;
  apiserver.register_resource({"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true, false});
  apiserver.start();
  ballast::testing::TempDir dir;
  const auto tokens = dir.write("tokens", std::string(kToken) + "\n");
  const auto kubeconfig = dir.write("kubeconfig", "current-context: fake\ncontexts: [{name: fake, context: {cluster: fake}}]\n"
                                                  "clusters: [{name: fake, cluster: {server: \"" + apiserver.url() + "\"}}]\n");
  std::array<Replica, 2> r;
  apiserver.put(peer_slice("ballast-peers-a", r[0].sessions, loopback_endpoint(true)));
  apiserver.put(peer_slice("ballast-peers-b", r[1].sessions, loopback_endpoint(true)));
  // Another Service's slice in the same namespace is no peer.
  auto other = peer_slice("web-x", r[1].sessions + 1, loopback_endpoint(true));
  other["metadata"]["labels"]["kubernetes.io/service-name"] = "web";
  apiserver.put(other);
  for (auto& replica : r) {
    replica.start(tokens, "", {"--kubeconfig=" + kubeconfig, "--namespace=ballast-system", "--peers-service=ballast-peers"});
  }
  for (auto& replica : r) REQUIRE(ballast::testing::becomes_ready(replica.admin, 15s));
  auto on0 = r[0].publish(7);
  auto on1 = r[1].publish(5);
  all_reach({&r[0], &r[1]}, 12, 12);
  const auto metrics = ballast::testing::http_get(r[1].admin, "/metrics");
  CHECK(metrics.find("ballast_peers{state=\"up\"} 1") != std::string::npos);
  CHECK(metrics.find("ballast_peers{state=\"self\"} 1") != std::string::npos);
  CHECK(metrics.find("ballast_peers{state=\"missing\"} 0") != std::string::npos);

  // Far below the 3 s bound after which an unreachable peer stops counting: the removal is
  // what drops the share. Replica 0 is alive and keeps dialing; its links are refused.
  constexpr auto kAtOnce = 1500ms;
  SECTION("an endpoint that stops being ready takes its replica's share with it at once, and comes back") {
    apiserver.put(peer_slice("ballast-peers-a", r[0].sessions, loopback_endpoint(false)));
    all_reach({&r[1]}, 5, 12, kAtOnce);
    all_reach({&r[0]}, 7, 12, kAtOnce);  // replica 1 no longer pushes to it either
    all_hold({&r[1]}, 5, 3s);           // past replica 0's redial backoff and the bound
    apiserver.put(peer_slice("ballast-peers-a", r[0].sessions, loopback_endpoint(true)));
    all_reach({&r[0], &r[1]}, 12, 12);
  }

  SECTION("a deleted slice takes its replica's share with it at once") {
    REQUIRE(apiserver.remove("discovery.k8s.io/v1", "endpointslices", "ballast-system", "ballast-peers-a"));
    all_reach({&r[1]}, 5, 12, kAtOnce);
    all_hold({&r[1]}, 5, 3s);
  }

  SECTION("an endpoint added later is dialed at once") {
    Replica late;
    late.start(tokens, "", {"--kubeconfig=" + kubeconfig, "--namespace=ballast-system", "--peers-service=ballast-peers"});
    REQUIRE(ballast::testing::FakeApiServer::wait_for(
        [&] { return ballast::testing::http_get(late.admin, "/healthz").find(" 200 ") != std::string::npos; }, 15s));
    auto on_late = late.publish(30);
    // It found the two others in the slices and pushes its share to them; they do not dial
    // a replica the slices do not name, so it hears nothing back yet.
    all_reach({&r[0], &r[1]}, 42, 42);
    all_reach({&late}, 30, 42);
    apiserver.put(peer_slice("ballast-peers-c", late.sessions, loopback_endpoint(true)));
    all_reach({&late}, 42, 42, kAtOnce);
    CHECK(ballast::testing::becomes_ready(late.admin, 15s));
    late.process.signal(SIGTERM);
    late.process.wait();
  }

  stop_cleanly(r);
}

TEST_CASE("serve stops, naming peers-service, when it has no Kubernetes API access or names no Service",
          "[peers]") {
  const std::string serve = std::string(BALLAST_BINARY) +
                            " serve --components scaler,sessions --sessions-insecure --grpc-address 127.0.0.1:0"
                            " --sessions-address 127.0.0.1:0 --admin-address 127.0.0.1:0";
  // Outside a cluster and without --kubeconfig there is no API to watch the slices through.
  const auto no_api = ballast::testing::run_command("env -u KUBERNETES_SERVICE_HOST " + serve +
                                                    " --peers-service ballast-system/ballast-peers 2>&1");
  CHECK(no_api.exit_code == 1);
  CHECK(no_api.text.find("peers-service needs Kubernetes API access") != std::string::npos);
  const auto bad = ballast::testing::run_command(serve + " --peers-service Ballast/peers/x 2>&1");
  CHECK(bad.exit_code == 1);
  CHECK(bad.text.find("peers-service: expected NAMESPACE/NAME or NAME") != std::string::npos);
}
