#include "sources/prom/prom_source.h"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fakes/fake_clock.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "scaler/trigger_spec.h"

using namespace ballast;
using namespace std::chrono_literals;

namespace {

std::string vector_body(const std::string& value) {
  return R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,")" + value +
         R"("]}]}})";
}

// A local Prometheus stand-in whose answer the test sets; it records each request and
// lets the test wait for the n-th one (a poller sends request n+1 only after it has
// handled response n, so waiting for a request is waiting for the previous outcome).
class FakePrometheus {
 public:
  explicit FakePrometheus(net::IoPool& pool) {
    auto started = net::HttpServer::start(pool, {"127.0.0.1:0"}, [this](const net::HttpRequest& request) {
      std::lock_guard lock(mutex_);
      requests_.push_back(request);
      changed_.notify_all();
      return net::HttpResponse{status_, "application/json", body_};
    });
    REQUIRE(started.ok());
    server_ = std::move(*started);
  }
  void answer(int status, std::string body) {
    std::lock_guard lock(mutex_);
    status_ = status;
    body_ = std::move(body);
  }
  // Waits (bounded) until `count` more requests than now have arrived.
  bool wait_requests(size_t count) {
    std::unique_lock lock(mutex_);
    const size_t target = requests_.size() + count;
    return changed_.wait_for(lock, 10s, [&] { return requests_.size() >= target; });
  }
  net::HttpRequest last() {
    std::lock_guard lock(mutex_);
    return requests_.back();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/prometheus"; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<net::HttpRequest> requests_;
  int status_ = 200;
  std::string body_ = vector_body("7");
  std::unique_ptr<net::HttpServer> server_;
};

struct TokenFile {
  TokenFile() {
    char pattern[] = "/tmp/ballast-token-XXXXXX";
    dir = mkdtemp(pattern);
    std::ofstream(dir + "/token") << "secret-token\n";
  }
  ~TokenFile() { std::filesystem::remove_all(dir); }
  std::string path() const { return dir + "/token"; }
  std::string dir;
};

struct Fixture {
  Fixture() { pool.start(); }
  ~Fixture() {
    source.stop();
    pool.stop();
  }
  scaler::TriggerSpec spec(const std::string& server) {
    auto parsed = scaler::parse_trigger({{"source", "prometheus"},
                                         {"serverAddress", server},
                                         {"query", "sum(interviews_active)"},
                                         {"threshold", "5"},
                                         {"tenant", "team-a"},
                                         {"customHeaders", "X-Team=interviews"},
                                         {"pollInterval", "10ms"},
                                         {"auth", "mimir"}});
    REQUIRE(parsed.ok());
    return *parsed;
  }
  // Waits for the hub to receive `value` for `key`.
  bool wait_value(const std::string& key, double value) {
    std::mutex mutex;
    std::condition_variable published;
    bool seen = false;
    auto subscription = hub.subscribe(key, [&](const scaler::Sample& sample) {
      std::lock_guard lock(mutex);
      seen = seen || sample.value == value;
      published.notify_all();
    });
    std::unique_lock lock(mutex);
    return published.wait_for(lock, 10s, [&] { return seen; });
  }

  testing::FakeClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  net::IoPool pool{2};
  TokenFile token;
  std::map<std::string, AuthProfile> profiles = [this] {
    AuthProfile mimir;
    mimir.bearer_token_file = token.path();
    return std::map<std::string, AuthProfile>{{"mimir", mimir}};
  }();
  prom::PromSource source{pool, hub, profiles, metrics};
};

}  // namespace

TEST_CASE("a poller publishes the query's value with tenant, headers and bearer token", "[prom][source]") {
  Fixture fixture;
  FakePrometheus prometheus(fixture.pool);
  const auto spec = fixture.spec(prometheus.url());
  REQUIRE(fixture.hub.track(spec.source_key));
  (void)fixture.hub.read(spec.source_key, spec.max_staleness);  // as the RPC that starts the poller does
  fixture.source.watch(spec);
  REQUIRE(fixture.wait_value(spec.source_key, 7));

  const auto request = prometheus.last();
  CHECK(request.path() == "/prometheus/api/v1/query");
  CHECK(request.target.find("query=sum%28interviews_active%29&time=") != std::string::npos);
  CHECK(request.headers.at("x-scope-orgid") == "team-a");
  CHECK(request.headers.at("x-team") == "interviews");
  CHECK(request.headers.at("authorization") == "Bearer secret-token");
}

TEST_CASE("a failing server keeps the last good value until maxStaleness, never 0", "[prom][source]") {
  Fixture fixture;
  FakePrometheus prometheus(fixture.pool);
  const auto spec = fixture.spec(prometheus.url());
  REQUIRE(fixture.hub.track(spec.source_key));
  (void)fixture.hub.read(spec.source_key, spec.max_staleness);
  fixture.source.watch(spec);
  REQUIRE(fixture.wait_value(spec.source_key, 7));

  prometheus.answer(503, "upstream unavailable");
  REQUIRE(prometheus.wait_requests(2));  // the 503 was handled before the next request left
  auto kept = fixture.hub.read(spec.source_key, spec.max_staleness);
  REQUIRE(kept.ok());
  CHECK(kept->value == 7);
  CHECK(fixture.metrics.render().find("ballast_prom_query_errors_total{reason=\"http_status\"}") != std::string::npos);

  fixture.clock.advance(31s);
  auto stale = fixture.hub.read(spec.source_key, spec.max_staleness);
  REQUIRE_FALSE(stale.ok());
  CHECK(stale.error().code == ErrorCode::kUnavailable);
  CHECK(stale.error().message.find("HTTP 503") != std::string::npos);

  prometheus.answer(200, vector_body("9"));
  CHECK(fixture.wait_value(spec.source_key, 9));
}

TEST_CASE("an empty result is an error by default, not a zero", "[prom][source]") {
  Fixture fixture;
  FakePrometheus prometheus(fixture.pool);
  prometheus.answer(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  const auto spec = fixture.spec(prometheus.url());
  REQUIRE(fixture.hub.track(spec.source_key));
  (void)fixture.hub.read(spec.source_key, spec.max_staleness);
  fixture.source.watch(spec);
  REQUIRE(prometheus.wait_requests(2));
  auto read = fixture.hub.read(spec.source_key, spec.max_staleness);
  REQUIRE_FALSE(read.ok());
  CHECK(read.error().message.find("ignoreNullValues") != std::string::npos);
}
