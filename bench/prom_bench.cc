// The prometheus source against a real local Prometheus (Debian's /usr/bin/prometheus),
// in one run:
//   latency: GetMetrics answered by ballast over gRPC loopback vs the same PromQL instant
//            query sent straight to Prometheus (keep-alive HTTP, as KEDA's own scaler
//            would), N calls each; p50/p99 and the ratio, for a one-series
//            query, one over Prometheus' own series, and a fleet-wide request rate
//            (`sum(rate(...[1m]))` over --series counters, measured once the 1m window
//            is full) as the target platform's autoscaling queries look.
//   fan-in:  backend queries per minute with 1 and with 200 ScaledObjects naming the same
//            query, each ScaledObject read once per second as KEDA's HPA path does;
//            counted at a recording hop in front of Prometheus.
// Usage: prom_bench [--calls N] [--seconds S] [--series K]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "fakes/prometheus_process.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "scaler/grpc/grpc_server.h"
#include "scaler/metric_hub.h"
#include "sources/prom/prom_source.h"

namespace {

using namespace ballast;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using externalscaler::ExternalScaler;

constexpr const char* kQuery = "sum(interviews_active)";
// Closer to a dashboard query: a regex selector over every series Prometheus holds.
constexpr const char* kHeavyQuery = "count({__name__=~\".+\"})";
// What an autoscaler on request rate asks: a rate over a fleet's counters.
constexpr const char* kRateQuery = "sum(rate(http_requests_total[1m]))";
constexpr auto kRateWindow = 60s;

struct Options {
  int calls = 2000;
  int seconds = 30;
  int series = 5000;
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--calls") {
      options.calls = std::stoi(argv[i + 1]);
    } else if (key == "--seconds") {
      options.seconds = std::stoi(argv[i + 1]);
    } else if (key == "--series") {
      options.series = std::stoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      std::exit(2);
    }
  }
  return options;
}

// Start-up failures end the benchmark with the reason.
template <typename T>
T must(Result<T> result, const char* what) {
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", what, result.error().message.c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  return samples[std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())))];
}

// Forwards to Prometheus and counts instant queries.
struct CountingHop {
  CountingHop(net::IoPool& pool, uint16_t upstream) : upstream_port(upstream) {
    client_pool.start();
    server = must(net::HttpServer::start(pool, {"127.0.0.1:0"}, [this](const net::HttpRequest& request) {
      if (request.path().ends_with("/api/v1/query")) ++queries;
      net::HttpClientRequest forward;
      forward.url = "http://127.0.0.1:" + std::to_string(upstream_port) + request.target;
      auto response = client.request_sync(forward);
      if (!response) return net::HttpResponse{502, "text/plain", response.error().message};
      return net::HttpResponse{response->status, "application/json", response->body};
    }), "recording hop");
  }
  uint16_t upstream_port;
  net::IoPool client_pool{2};
  net::HttpClient client{client_pool};
  std::atomic<int> queries{0};
  std::unique_ptr<net::HttpServer> server;
};

struct Ballast {
  Ballast() : source(pool, hub, {}, metrics) {
    pool.start();
    ScalerConfig config;
    config.grpc_address = "127.0.0.1:0";
    grpc = must(scaler::GrpcServer::start(config, hub, {{scaler::SourceKind::kPrometheus, &source}}, metrics), "grpc");
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

externalscaler::GetMetricsRequest metrics_request(const std::string& server, int index,
                                                 const std::string& query = kQuery) {
  externalscaler::GetMetricsRequest request;
  auto& ref = *request.mutable_scaledobjectref();
  ref.set_name("interview-gateway-" + std::to_string(index));
  ref.set_namespace_("bench");
  auto& metadata = *ref.mutable_scalermetadata();
  metadata["source"] = "prometheus";
  metadata["serverAddress"] = server;
  metadata["query"] = query;
  metadata["tenant"] = "bench";
  metadata["threshold"] = std::to_string(5 + index);  // distinct thresholds, one query
  metadata["metricName"] = "interviews";
  request.set_metricname("interviews");
  return request;
}

bool get_metrics(ExternalScaler::Stub& stub, const externalscaler::GetMetricsRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 2s);
  externalscaler::GetMetricsResponse response;
  return stub.GetMetrics(&context, request, &response).ok();
}

// Reads `scaled_objects` triggers once per second each for `seconds`; returns the backend
// queries per minute the hop counted.
double queries_per_minute(CountingHop& hop, const std::string& server, int scaled_objects, int seconds) {
  Ballast ballast;
  std::vector<externalscaler::GetMetricsRequest> requests;
  for (int i = 0; i < scaled_objects; ++i) requests.push_back(metrics_request(server, i));
  // Warm up: the first read starts the poller.
  for (int i = 0; i < 100 && !get_metrics(*ballast.stub, requests[0]); ++i) std::this_thread::sleep_for(50ms);
  const int before = hop.queries;
  const auto start = Steady::now();
  for (int second = 0; second < seconds; ++second) {
    const auto tick = start + std::chrono::seconds(second);
    std::this_thread::sleep_until(tick);
    for (const auto& request : requests) get_metrics(*ballast.stub, request);
  }
  std::this_thread::sleep_until(start + std::chrono::seconds(seconds));
  return (hop.queries - before) * 60.0 / seconds;
}

// The exporter's page: one gauge, and `series` request counters (50 services, 20 pods
// each, routes below) that grow with every scrape.
std::string exposition(int series, long scrape) {
  std::string page = "interviews_active 7\n";
  page.reserve(static_cast<size_t>(series) * 96);
  for (int i = 0; i < series; ++i) {
    page += "http_requests_total{service=\"svc-" + std::to_string(i % 50) + "\",pod=\"pod-" +
            std::to_string(i / 50 % 20) + "\",route=\"/r" + std::to_string(i / 1000) + "\",code=\"200\"} " +
            std::to_string(scrape * (1 + i % 7)) + "\n";
  }
  return page;
}

// `calls` of ballast's GetMetrics (answered from the hub), then `calls` of the same query
// straight to Prometheus.
void compare_latency(const std::string& query, int calls, const testing::PrometheusProcess& prometheus,
                     net::HttpClient& direct) {
  Ballast ballast;
  const auto request = metrics_request(prometheus.base_url(), 0, query);
  for (int i = 0; i < 100 && !get_metrics(*ballast.stub, request); ++i) std::this_thread::sleep_for(50ms);
  net::HttpClientRequest direct_query;
  direct_query.url = prometheus.base_url() + "/api/v1/query?query=" + net::url_encode(query);
  for (int i = 0; i < 50; ++i) {  // warm both paths' connections
    get_metrics(*ballast.stub, request);
    (void)direct.request_sync(direct_query);
  }
  // One path after the other, not interleaved: interleaved, each ballast call landed while
  // Prometheus was still busy with the query before it (GC, on the same two cores), which
  // a deployment does not see (Mimir runs elsewhere).
  std::vector<double> ballast_us, direct_us;
  int failures = 0;
  for (int i = 0; i < calls; ++i) {
    const auto start = Steady::now();
    if (!get_metrics(*ballast.stub, request)) ++failures;
    ballast_us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count());
  }
  for (int i = 0; i < calls; ++i) {
    const auto start = Steady::now();
    auto response = direct.request_sync(direct_query);
    if (!response || response->status != 200) ++failures;
    direct_us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - start).count());
  }
  const double b50 = percentile(ballast_us, 0.50), b99 = percentile(ballast_us, 0.99);
  const double d50 = percentile(direct_us, 0.50), d99 = percentile(direct_us, 0.99);
  std::printf("latency for %s (%d calls each, ballast first, %d failures)\n", query.c_str(), calls, failures);
  std::printf("  ballast GetMetrics (gRPC loopback): p50 %.0f us  p99 %.0f us\n", b50, b99);
  std::printf("  direct PromQL /api/v1/query:        p50 %.0f us  p99 %.0f us\n", d50, d99);
  std::printf("  ratio direct/ballast:               p50 %.1fx  p99 %.1fx\n", d50 / b50, d99 / b99);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  set_log_level(LogLevel::kError);
  net::IoPool pool(2);
  pool.start();
  std::atomic<long> scrapes{0};
  auto exporter = must(net::HttpServer::start(pool, {"127.0.0.1:0"}, [&](const net::HttpRequest&) {
    return net::HttpResponse{200, "text/plain; version=0.0.4", exposition(options.series, ++scrapes)};
  }), "exporter");
  const auto scraping_since = Steady::now();
  testing::PrometheusProcess prometheus("127.0.0.1:" + std::to_string(exporter->port()));
  net::HttpClient direct(pool);
  if (!prometheus.start() || !prometheus.wait_for_data(direct, "interviews_active", 30s)) {
    std::fprintf(stderr, "prometheus did not start or scrape\n");
    return 1;
  }
  CountingHop hop(pool, prometheus.port());
  const std::string hop_server = "http://127.0.0.1:" + std::to_string(hop.server->port()) + "/prometheus";

  if (!prometheus.wait_for_data(direct, kHeavyQuery, 30s)) {
    std::fprintf(stderr, "prometheus has no data for %s\n", kHeavyQuery);
    return 1;
  }
  compare_latency(kQuery, options.calls, prometheus, direct);
  compare_latency(kHeavyQuery, options.calls, prometheus, direct);
  std::this_thread::sleep_until(scraping_since + kRateWindow + 5s);  // a full window of samples
  compare_latency(kRateQuery, options.calls, prometheus, direct);

  // Fan-in: one poller however many ScaledObjects name the query.
  const double one = queries_per_minute(hop, hop_server, 1, options.seconds);
  const double many = queries_per_minute(hop, hop_server, 200, options.seconds);
  std::printf("backend queries per minute (pollInterval 2s, each ScaledObject read 1/s, %d s windows)\n",
              options.seconds);
  std::printf("  1 ScaledObject:    %.1f\n", one);
  std::printf("  200 ScaledObjects: %.1f\n", many);
  return 0;
}
