// The fault suite, Prometheus part: `ballast serve` reads a PromQL trigger from a server
// that fails in each way a Prometheus or Mimir (or a proxy in front of one) fails. For
// every fault KEDA reads the last good value, then UNAVAILABLE, never a zero; ballast stays
// up with bounded memory, recovers on its own, and its log and /metrics name the failing
// server without the trigger's credential. (A real Prometheus killed and restarted is
// tests/integration/prom_test.cc.)
#include <catch2/catch.hpp>

#include <functional>

#include "faulty_prometheus.h"
#include "scaler_under_fault.h"

using namespace ballast;
using namespace ballast::testing;
using namespace std::chrono_literals;
using Mode = FaultyPrometheus::Mode;

namespace {

// Short on purpose: a fault goes stale within the suite's time budget.
constexpr auto kPollInterval = 200ms;
constexpr auto kMaxStaleness = 1500ms;
constexpr auto kTimeout = 500ms;
constexpr double kLastGood = 7;
constexpr const char* kSecret = "fault-suite-bearer-6f1d3a";
// Peak memory while oversized bodies arrive: the 4 MiB cap and one doubling of the string
// that holds the body, never the 100 MiB offered.
constexpr long kPeakSlackKib = 12 << 10;

externalscaler::ScaledObjectRef trigger(const std::string& server) {
  return scaler::scaled_object_ref("interviews", "interview-gateway",
                                   {{"source", "prometheus"},
                                    {"serverAddress", server},
                                    {"query", "sum(interviews_active)"},
                                    {"threshold", "5"},
                                    {"pollInterval", "200ms"},
                                    {"maxStaleness", "1500ms"},
                                    {"timeout", "500ms"},
                                    {"customHeaders", std::string("Authorization=Bearer ") + kSecret}});
}

// One ballast, one faulty server, one trigger that has read its first value.
struct PromFault {
  PromFault() : ref(trigger(prometheus.url())) {
    const auto first = recovers_to(ballast.stub(), ref, kLastGood, 10s);
    INFO(describe(first));
    REQUIRE(first.metrics_status.ok());
    rss_before_kib = ballast.rss_kib();
  }

  // The fault's life as KEDA sees it: the last good value, then UNAVAILABLE for GetMetrics
  // and IsActive; nothing else.
  FaultWatch ride_out(const std::function<void()>& inject) {
    inject();
    auto watch = watch_fault(ballast.stub(), ref, kLastGood, 10s);
    INFO("wrong answers during the fault:\n" << joined(watch.wrong) << "last: " << describe(watch.last));
    CHECK(watch.wrong.empty());
    CHECK(watch.last_good_at >= 0ms);  // served from the cache while fresh
    REQUIRE(watch.unavailable_at >= 0ms);
    // Staleness counts from the last good poll (at most one interval before the fault), and
    // a poll under way when the fault began may still have succeeded.
    CHECK(watch.unavailable_at >= kMaxStaleness - kPollInterval - 100ms);
    CHECK(watch.unavailable_at <= kMaxStaleness + kTimeout + 2s);
    CHECK(watch.last.metrics_status.error_message().find(kSecret) == std::string::npos);
    return watch;
  }

  // After the fault clears: the value returns without a restart, the process never died,
  // memory went back near where it was, and the log and /metrics say which server failed
  // and why, without the credential.
  void recovers(const std::string& reason) {
    recovers_on_its_own(ballast, ref, kLastGood, 10s, rss_before_kib);

    const auto metrics = ballast.metrics();
    const auto reason_errors = series_value(metrics, "ballast_prom_query_errors_total{reason=\"" + reason + "\"}");
    INFO(joined(lines_with(metrics, "ballast_prom_query_errors_total")));
    CHECK(reason_errors.value_or(0) >= 1);
    const auto source_series = lines_with(metrics, "ballast_source_errors_total{source_key=\"prometheus|server=" +
                                                       prometheus.url() + "|");
    INFO(joined(lines_with(metrics, "ballast_source_errors_total")));
    REQUIRE(source_series.size() == 1);
    CHECK(sample_of(source_series[0]) >= 1);
    CHECK(metrics.find(kSecret) == std::string::npos);

    const auto log = ballast.log();
    const auto failing = lines_with(log, "prometheus query failing");
    INFO(log);
    REQUIRE_FALSE(failing.empty());
    CHECK(failing[0].find(prometheus.url()) != std::string::npos);
    CHECK(failing[0].find("\"reason\":\"" + reason + "\"") != std::string::npos);
    CHECK_FALSE(lines_with(log, "prometheus query recovered").empty());
    CHECK(log.find(kSecret) == std::string::npos);
  }

  FaultyPrometheus prometheus;
  ScalerUnderFault ballast;
  externalscaler::ScaledObjectRef ref;
  long rss_before_kib = 0;
};

}  // namespace

TEST_CASE("prometheus refuses connections: last value, then UNAVAILABLE, then back when it listens again",
          "[faults][prometheus]") {
  PromFault fault;
  const auto watch = fault.ride_out([&] { fault.prometheus.refuse(); });
  CHECK(watch.last.metrics_status.error_message().find("127.0.0.1") != std::string::npos);
  fault.prometheus.accept_again();
  fault.recovers("unavailable");
}

TEST_CASE("prometheus answers 500: last value, then UNAVAILABLE carrying the status", "[faults][prometheus]") {
  PromFault fault;
  const auto watch = fault.ride_out([&] { fault.prometheus.set_mode(Mode::kServerError); });
  CHECK(watch.last.metrics_status.error_message().find("HTTP 500") != std::string::npos);
  fault.prometheus.set_mode(Mode::kHealthy);
  fault.recovers("http_status");
}

TEST_CASE("prometheus answers 503 with Retry-After: ballast waits that long before asking again",
          "[faults][prometheus]") {
  PromFault fault;
  fault.prometheus.retry_after_seconds = 2;
  const int before = fault.prometheus.queries();
  const auto began = std::chrono::steady_clock::now();
  const auto watch = fault.ride_out([&] { fault.prometheus.set_mode(Mode::kRetryLater); });
  CHECK(watch.last.metrics_status.error_message().find("HTTP 503") != std::string::npos);
  CHECK(watch.last.metrics_status.error_message().find("Retry-After 2s") != std::string::npos);
  std::this_thread::sleep_until(began + 3s);
  // Every 200 ms that would be 15 queries; honouring Retry-After: 2 (at 0 s and at 2 s), one
  // more for a poll already under way when the fault began.
  const int during = fault.prometheus.queries() - before;
  INFO(during << " queries in 3 s of 503 with Retry-After: 2");
  CHECK(during <= 3);
  fault.prometheus.set_mode(Mode::kHealthy);
  fault.recovers("http_status");
}

TEST_CASE("a body that never ends is cut off by the query timeout", "[faults][prometheus]") {
  PromFault fault;
  SECTION("chunked, one byte at a time, forever") {
    fault.ride_out([&] { fault.prometheus.set_mode(Mode::kTrickleForever); });
  }
  SECTION("a Content-Length that is never reached") {
    fault.ride_out([&] { fault.prometheus.set_mode(Mode::kShortContentLength); });
  }
  fault.prometheus.set_mode(Mode::kHealthy);
  fault.recovers("timeout");
}

TEST_CASE("a server that stalls for 30 s costs one query timeout per poll, not 30 s", "[faults][prometheus]") {
  PromFault fault;
  const auto watch = fault.ride_out([&] { fault.prometheus.set_mode(Mode::kStall); });
  CHECK(watch.last.metrics_status.error_message().find("timed out") != std::string::npos);
  // Each poll gave up after its 500 ms timeout and the next began: several, not one stuck.
  CHECK(fault.prometheus.queries() >= 3);
  fault.prometheus.set_mode(Mode::kHealthy);
  fault.recovers("timeout");
}

TEST_CASE("a body that is not JSON is an error, never a value", "[faults][prometheus]") {
  PromFault fault;
  fault.ride_out([&] { fault.prometheus.set_mode(Mode::kInvalidJson); });
  fault.prometheus.set_mode(Mode::kHealthy);
  fault.recovers("bad_response");
}

TEST_CASE("a 100 MiB body is refused at the 4 MiB cap without being buffered", "[faults][prometheus]") {
  PromFault fault;
  const long peak_before_kib = fault.ballast.peak_rss_kib();
  SECTION("declared in Content-Length: refused before the body is read") {
    const auto watch = fault.ride_out([&] { fault.prometheus.set_mode(Mode::kHugeDeclared); });
    CHECK(watch.last.metrics_status.error_message().find("larger than") != std::string::npos);
  }
  SECTION("chunked, no length: counted as it arrives and cut off at the cap") {
    const auto watch = fault.ride_out([&] { fault.prometheus.set_mode(Mode::kHugeChunked); });
    CHECK(watch.last.metrics_status.error_message().find("larger than") != std::string::npos);
  }
  const long peak_after_kib = fault.ballast.peak_rss_kib();
  const size_t sent = fault.prometheus.body_bytes_sent();
  INFO("peak RSS " << peak_before_kib << " → " << peak_after_kib << " KiB; " << (sent >> 20)
                   << " MiB of body written by the server over all attempts");
  // Peak memory, not just the RSS afterwards: the body was never held whole.
  CHECK(peak_after_kib - peak_before_kib < kPeakSlackKib);
  fault.prometheus.set_mode(Mode::kHealthy);
  fault.recovers("bad_response");
}
