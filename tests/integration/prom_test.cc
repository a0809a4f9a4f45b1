// The prometheus source against the real Prometheus server, served under /prometheus as
// Mimir serves its API, read the way KEDA reads it: over ballast's gRPC ExternalScaler.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "externalscaler.grpc.pb.h"
#include "fakes/keda_client.h"
#include "fakes/prometheus_process.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "scaler/grpc/grpc_server.h"
#include "scaler/metric_hub.h"
#include "sources/prom/prom_source.h"

using namespace ballast;
using namespace std::chrono_literals;
using externalscaler::ExternalScaler;

namespace {

// A small exporter: the metric Prometheus scrapes.
struct Exporter {
  explicit Exporter(net::IoPool& pool) {
    auto started = net::HttpServer::start(pool, {"127.0.0.1:0"}, [this](const net::HttpRequest&) {
      return net::HttpResponse{200, "text/plain; version=0.0.4",
                               "# TYPE interviews_active gauge\ninterviews_active " + std::to_string(value.load()) +
                                   "\n"};
    });
    REQUIRE(started.ok());
    server = std::move(*started);
  }
  std::atomic<int> value{7};
  std::unique_ptr<net::HttpServer> server;
};

// A hop in front of Prometheus that records the tenant header of every request, as
// Mimir's gateway would see it, and forwards the request unchanged.
struct RecordingHop {
  RecordingHop(net::IoPool& pool, uint16_t upstream_port) : upstream(upstream_port) {
    client_pool.start();
    auto started = net::HttpServer::start(pool, {"127.0.0.1:0"}, [this](const net::HttpRequest& request) {
      {
        std::lock_guard lock(mutex);
        const auto tenant = request.headers.find("x-scope-orgid");
        tenants.insert(tenant == request.headers.end() ? "" : tenant->second);
      }
      net::HttpClientRequest forward;
      forward.url = "http://127.0.0.1:" + std::to_string(upstream) + request.target;
      forward.timeout = 2s;
      auto response = client.request_sync(forward);
      if (!response) return net::HttpResponse{502, "text/plain", response.error().message};
      const auto type = response->headers.find("content-type");
      return net::HttpResponse{response->status, type == response->headers.end() ? "text/plain" : type->second,
                               response->body};
    });
    REQUIRE(started.ok());
    server = std::move(*started);
  }
  std::set<std::string> seen_tenants() {
    std::lock_guard lock(mutex);
    return tenants;
  }
  uint16_t upstream;
  net::IoPool client_pool{1};  // the forwarding client blocks; keep it off the served pool
  net::HttpClient client{client_pool};
  std::mutex mutex;
  std::set<std::string> tenants;
  std::unique_ptr<net::HttpServer> server;
};

// ballast's scaler side: hub, source and gRPC server on loopback.
struct Ballast {
  Ballast() : source(pool, hub, {}, metrics) {
    pool.start();
    ScalerConfig config;
    config.grpc_address = "127.0.0.1:0";
    auto started = scaler::GrpcServer::start(config, hub, {{scaler::SourceKind::kPrometheus, &source}}, metrics);
    REQUIRE(started.ok());
    grpc = std::move(*started);
    stub = ExternalScaler::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc->port()), grpc::InsecureChannelCredentials()));
  }
  ~Ballast() {
    grpc->shutdown(1s);
    source.stop();
    pool.stop();
  }
  SteadyClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  net::IoPool pool{2};
  prom::PromSource source;
  std::unique_ptr<scaler::GrpcServer> grpc;
  std::unique_ptr<ExternalScaler::Stub> stub;
};

externalscaler::ScaledObjectRef ref(const std::string& server, const std::string& query,
                                    const std::map<std::string, std::string>& extra = {}) {
  externalscaler::ScaledObjectRef out;
  out.set_name("interview-gateway");
  out.set_namespace_("interviews");
  auto& metadata = *out.mutable_scalermetadata();
  metadata["scalerAddress"] = "ballast:9090";
  metadata["source"] = "prometheus";
  metadata["serverAddress"] = server;
  metadata["query"] = query;
  metadata["threshold"] = "5";
  metadata["tenant"] = "team-interviews";
  metadata["pollInterval"] = "200ms";
  metadata["maxStaleness"] = "2s";
  for (const auto& [key, value] : extra) metadata[key] = value;
  return out;
}

// What Prometheus itself answers for `query`, asked directly.
std::optional<double> prometheus_value(net::HttpClient& client, const testing::PrometheusProcess& prometheus,
                                       const std::string& query) {
  net::HttpClientRequest request;
  request.url = prometheus.base_url() + "/api/v1/query?query=" + net::url_encode(query);
  auto response = client.request_sync(request);
  if (!response || response->status != 200) return std::nullopt;
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (body.is_discarded() || body["data"]["result"].size() != 1) return std::nullopt;
  return std::stod(body["data"]["result"][0]["value"][1].get<std::string>());
}

}  // namespace

TEST_CASE("KEDA reads through ballast what Prometheus answers, and outages never read as zero",
          "[prom][integration]") {
  net::IoPool test_pool(2);
  test_pool.start();
  net::HttpClient direct(test_pool);
  Exporter exporter(test_pool);
  testing::PrometheusProcess prometheus("127.0.0.1:" + std::to_string(exporter.server->port()));
  REQUIRE(prometheus.start());
  REQUIRE(prometheus.wait_for_data(direct, "interviews_active", 30s));
  RecordingHop hop(test_pool, prometheus.port());
  Ballast ballast;
  const std::string server = "http://127.0.0.1:" + std::to_string(hop.server->port()) + "/prometheus";
  const std::string query = "sum(interviews_active)";
  const auto trigger = ref(server, query);

  auto first = testing::poll_until(*ballast.stub, trigger, [](const testing::KedaPoll& r) { return r.metrics_status.ok(); }, 10s);
  INFO(first.metrics_status.error_message());
  REQUIRE(first.metrics_status.ok());
  CHECK(first.value == prometheus_value(direct, prometheus, query));
  CHECK(first.value == 7);
  CHECK(hop.seen_tenants() == std::set<std::string>{"team-interviews"});

  SECTION("a new value in Prometheus reaches KEDA and matches Prometheus' own answer") {
    exporter.value = 11;
    auto updated = testing::poll_until(*ballast.stub, trigger, [](const testing::KedaPoll& r) { return r.value == 11; }, 10s);
    REQUIRE(updated.metrics_status.ok());
    CHECK(updated.value == 11);
    CHECK(prometheus_value(direct, prometheus, query) == 11.0);
  }

  SECTION("an empty result is UNAVAILABLE, or 0 with ignoreNullValues") {
    auto missing = testing::poll_until(*ballast.stub, ref(server, "sum(no_such_metric)"),
                              [](const testing::KedaPoll& r) { return r.metrics_status.error_message().find("no sample") != std::string::npos; },
                              10s);
    CHECK(missing.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(missing.metrics_status.error_message().find("ignoreNullValues") != std::string::npos);
    auto zero = testing::poll_until(*ballast.stub, ref(server, "sum(no_such_metric)", {{"ignoreNullValues", "true"}}),
                           [](const testing::KedaPoll& r) { return r.metrics_status.ok(); }, 10s);
    REQUIRE(zero.metrics_status.ok());
    CHECK(zero.value == 0);
  }

  SECTION("a query Prometheus rejects is UNAVAILABLE carrying Prometheus' message") {
    auto rejected = testing::poll_until(*ballast.stub, ref(server, "sum(interviews_active"),
                               [](const testing::KedaPoll& r) { return r.metrics_status.error_message().find("bad_data") != std::string::npos; },
                               10s);
    CHECK(rejected.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(rejected.metrics_status.error_message().find("bad_data") != std::string::npos);
  }

  SECTION("an outage keeps the last good value until maxStaleness, then UNAVAILABLE; a restart heals") {
    prometheus.kill();
    const auto killed = std::chrono::steady_clock::now();
    // Within the staleness window every read is the last good value, never 0.
    while (std::chrono::steady_clock::now() - killed < 1s) {
      auto during = testing::keda_poll(*ballast.stub, trigger);
      REQUIRE(during.metrics_status.ok());
      CHECK(during.value == 7);
      std::this_thread::sleep_for(100ms);
    }
    auto stale = testing::poll_until(*ballast.stub, trigger, [](const testing::KedaPoll& r) { return !r.metrics_status.ok(); }, 10s);
    CHECK(stale.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(std::chrono::steady_clock::now() - killed >= 1500ms);

    REQUIRE(prometheus.start());
    auto healed = testing::poll_until(*ballast.stub, trigger, [](const testing::KedaPoll& r) { return r.metrics_status.ok(); }, 30s);
    INFO(healed.metrics_status.error_message());
    REQUIRE(healed.metrics_status.ok());
    CHECK(healed.value == 7);
  }
}

TEST_CASE("many triggers naming one query share one poller", "[prom][integration]") {
  net::IoPool test_pool(2);
  test_pool.start();
  net::HttpClient direct(test_pool);
  Exporter exporter(test_pool);
  testing::PrometheusProcess prometheus("127.0.0.1:" + std::to_string(exporter.server->port()));
  REQUIRE(prometheus.start());
  REQUIRE(prometheus.wait_for_data(direct, "interviews_active", 30s));
  RecordingHop hop(test_pool, prometheus.port());
  Ballast ballast;
  const std::string server = "http://127.0.0.1:" + std::to_string(hop.server->port()) + "/prometheus";
  for (int i = 0; i < 20; ++i) {
    auto trigger = ref(server, "sum(interviews_active)", {{"threshold", std::to_string(i + 1)},
                                                          {"activationThreshold", std::to_string(i)}});
    auto reading = testing::poll_until(*ballast.stub, trigger, [](const testing::KedaPoll& r) { return r.metrics_status.ok(); }, 10s);
    REQUIRE(reading.metrics_status.ok());
  }
  CHECK(ballast.hub.status().size() == 1);
}
