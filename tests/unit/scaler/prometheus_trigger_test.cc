#include "scaler/prometheus_trigger.h"

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"
#include "fakes/metadata_edits.h"

#include "core/metrics.h"
#include "scaler/metric_hub.h"
#include "scaler/trigger_spec.h"

using namespace ballast;
using namespace ballast::scaler;
using ballast::testing::with;
using ballast::testing::without;
using namespace std::chrono_literals;

namespace {

Metadata prom_metadata() {
  return {{"source", "prometheus"},
          {"serverAddress", "http://mimir.monitoring:8080/prometheus"},
          {"query", "sum(interviews_active)"},
          {"threshold", "5"}};
}

std::string error_of(const Metadata& metadata) {
  auto spec = parse_trigger(metadata);
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.error().code == ErrorCode::kInvalidArgument);
  return spec.error().message;
}

}  // namespace

TEST_CASE("a minimal prometheus trigger gets the documented defaults", "[trigger][prometheus]") {
  auto spec = parse_trigger(prom_metadata());
  INFO((spec.ok() ? "" : spec.error().message));
  REQUIRE(spec.ok());
  CHECK(spec->source == SourceKind::kPrometheus);
  CHECK(spec->threshold == 5);
  CHECK(spec->activation_threshold == 0);
  CHECK(spec->poll_interval == 2s);
  CHECK(spec->max_staleness == 30s);
  const auto& prom = std::get<PrometheusTrigger>(spec->detail);
  CHECK(prom.server_address == "http://mimir.monitoring:8080/prometheus");
  CHECK(prom.query == "sum(interviews_active)");
  CHECK(prom.tenant.empty());
  CHECK(prom.custom_headers.empty());
  CHECK(prom.query_parameters.empty());
  CHECK_FALSE(prom.ignore_null_values);
  CHECK_FALSE(prom.unsafe_ssl);
  CHECK(prom.timeout == 3s);
  CHECK(spec->metric_name.starts_with("prometheus-sum-interviews-active-"));
  CHECK(spec->metric_name.size() == std::string("prometheus-sum-interviews-active-").size() + 8);
}

TEST_CASE("every prometheus key is read", "[trigger][prometheus]") {
  auto metadata = prom_metadata();
  metadata["serverAddress"] = "https://mimir.example:443/prometheus/";
  metadata["activationThreshold"] = "1.5";
  metadata["tenant"] = "team-a|team-b";
  metadata["customHeaders"] = "X-Team=interviews,X-Env=prod";
  metadata["queryParameters"] = "dedup=true,partial_response=false";
  metadata["ignoreNullValues"] = "TRUE";
  metadata["unsafeSsl"] = "true";
  metadata["timeout"] = "750ms";
  metadata["pollInterval"] = "5s";
  metadata["auth"] = "mimir";
  metadata["metricName"] = "Interviews";
  auto spec = parse_trigger(metadata);
  INFO((spec.ok() ? "" : spec.error().message));
  REQUIRE(spec.ok());
  const auto& prom = std::get<PrometheusTrigger>(spec->detail);
  CHECK(prom.server_address == "https://mimir.example:443/prometheus");
  CHECK(spec->activation_threshold == 1.5);
  CHECK(prom.tenant == "team-a|team-b");
  CHECK(prom.custom_headers == std::vector<std::pair<std::string, std::string>>{{"X-Team", "interviews"},
                                                                                {"X-Env", "prod"}});
  CHECK(prom.query_parameters == std::vector<std::pair<std::string, std::string>>{{"dedup", "true"},
                                                                                  {"partial_response", "false"}});
  CHECK(prom.ignore_null_values);
  CHECK(prom.unsafe_ssl);
  CHECK(prom.timeout == 750ms);
  CHECK(spec->poll_interval == 5s);
  CHECK(spec->auth == "mimir");
  CHECK(spec->metric_name.starts_with("interviews"));
}

TEST_CASE("a bare timeout is milliseconds, as in KEDA", "[trigger][prometheus]") {
  auto spec = parse_trigger(with(prom_metadata(), "timeout", "1500"));
  REQUIRE(spec.ok());
  CHECK(std::get<PrometheusTrigger>(spec->detail).timeout == 1500ms);
}

TEST_CASE("bad prometheus metadata is rejected naming the key", "[trigger][prometheus]") {
  struct Row {
    Metadata metadata;
    const char* key;
  };
  const std::vector<Row> rows = {
      {without(prom_metadata(), "serverAddress"), "serverAddress"},
      {with(prom_metadata(), "serverAddress", "mimir:8080"), "serverAddress"},
      {with(prom_metadata(), "serverAddress", "ftp://mimir:8080"), "serverAddress"},
      {with(prom_metadata(), "serverAddress", "http://"), "serverAddress"},
      {with(prom_metadata(), "serverAddress", "http://user:pw@mimir"), "serverAddress"},
      {with(prom_metadata(), "serverAddress", "http://mimir/prometheus?x=1"), "serverAddress"},
      {with(prom_metadata(), "serverAddress", "http://mimir/prometheus/api/v1/query"), "serverAddress"},
      {without(prom_metadata(), "query"), "query"},
      {with(prom_metadata(), "query", "   "), "query"},
      {without(prom_metadata(), "threshold"), "threshold"},
      {with(prom_metadata(), "threshold", "0"), "threshold"},
      {with(prom_metadata(), "threshold", "-1"), "threshold"},
      {with(prom_metadata(), "threshold", "lots"), "threshold"},
      // Only decimal numbers: strtod would read these as 16, infinity, NaN or 5.
      {with(prom_metadata(), "threshold", "0x10"), "threshold"},
      {with(prom_metadata(), "threshold", "inf"), "threshold"},
      {with(prom_metadata(), "threshold", "nan"), "threshold"},
      {with(prom_metadata(), "threshold", " 5"), "threshold"},
      {with(prom_metadata(), "threshold", "1e"), "threshold"},
      // Past what KEDA's int64 milli-quantities hold (2^63 became INT64_MIN).
      {with(prom_metadata(), "threshold", "9223372036854775808"), "threshold"},
      {with(prom_metadata(), "threshold", "1e16"), "threshold"},
      {with(prom_metadata(), "activationThreshold", "-1e300"), "activationThreshold"},
      {with(prom_metadata(), "activationThreshold", "x"), "activationThreshold"},
      {with(prom_metadata(), "customHeaders", "X-Team"), "customHeaders"},
      {with(prom_metadata(), "customHeaders", "X-Team=a=b"), "customHeaders"},
      {with(prom_metadata(), "customHeaders", "Bad Header=a"), "customHeaders"},
      {with(prom_metadata(), "customHeaders", "Host=evil"), "customHeaders"},
      {with(with(prom_metadata(), "customHeaders", "X-Scope-OrgID=a"), "tenant", "b"), "tenant"},
      {with(prom_metadata(), "tenant", "a\nb"), "tenant"},
      {with(prom_metadata(), "queryParameters", "dedup"), "queryParameters"},
      {with(prom_metadata(), "queryParameters", "query=up"), "queryParameters"},
      {with(prom_metadata(), "ignoreNullValues", "maybe"), "ignoreNullValues"},
      {with(prom_metadata(), "unsafeSsl", "yes"), "unsafeSsl"},
      {with(prom_metadata(), "timeout", "soon"), "timeout"},
      {with(prom_metadata(), "timeout", "0"), "timeout"},
      {with(prom_metadata(), "timeout", "0s"), "timeout"},
      {with(prom_metadata(), "pollInterval", "fast"), "pollInterval"},
      {with(prom_metadata(), "serverAdress", "http://x"), "serverAddress"},
  };
  for (const auto& row : rows) {
    const auto message = error_of(row.metadata);
    INFO(message);
    CHECK(message.find(row.key) != std::string::npos);
  }
}

TEST_CASE("triggers that differ only in thresholds share a source key and metric name", "[trigger][prometheus]") {
  auto low = parse_trigger(prom_metadata());
  auto high = parse_trigger(with(with(prom_metadata(), "threshold", "50"), "activationThreshold", "10"));
  REQUIRE(low.ok());
  REQUIRE(high.ok());
  CHECK(low->source_key == high->source_key);
  CHECK(low->metric_name == high->metric_name);
}

TEST_CASE("every option that changes the value changes the source key and metric name", "[trigger][prometheus]") {
  const auto base = parse_trigger(prom_metadata());
  REQUIRE(base.ok());
  const std::vector<Metadata> variants = {
      with(prom_metadata(), "serverAddress", "http://other:9090"),
      with(prom_metadata(), "query", "sum(interviews_active) * 2"),
      with(prom_metadata(), "tenant", "team-a"),
      with(prom_metadata(), "customHeaders", "X-Team=a"),
      with(prom_metadata(), "queryParameters", "dedup=true"),
      with(prom_metadata(), "ignoreNullValues", "true"),
      with(prom_metadata(), "unsafeSsl", "true"),
      with(prom_metadata(), "timeout", "10s"),
      with(prom_metadata(), "auth", "mimir"),
  };
  for (const auto& metadata : variants) {
    auto spec = parse_trigger(metadata);
    REQUIRE(spec.ok());
    CHECK(spec->source_key != base->source_key);
    CHECK(spec->metric_name != base->metric_name);
  }
}

TEST_CASE("a separator inside a value cannot make two source keys equal", "[trigger][prometheus]") {
  auto a = parse_trigger(with(with(prom_metadata(), "tenant", "x|query=y"), "query", "z"));
  auto b = parse_trigger(with(with(prom_metadata(), "tenant", "x"), "query", "y|query=z"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->source_key != b->source_key);
}

TEST_CASE("secret header values, parameter values and URL passwords are shown nowhere",
          "[trigger][prometheus][secrets]") {
  const std::string secret = "s3cr3t-Zq9";
  const auto with_header = [&](const std::string& token) {
    return with(with(prom_metadata(), "customHeaders", "Authorization=Bearer " + token + ",X-Team=interviews"),
                "queryParameters", "api_key=" + token);
  };
  auto spec = parse_trigger(with_header(secret));
  REQUIRE(spec.ok());
  auto other = parse_trigger(with_header("another-token"));
  REQUIRE(other.ok());

  SECTION("the key tells the two apart by a digest; the name shows header and parameter names only") {
    CHECK(spec->source_key != other->source_key);
    CHECK(spec->metric_name != other->metric_name);
    CHECK(spec->source_name == other->source_name);
    CHECK_THAT(spec->source_name, Catch::Contains("header=Authorization") && Catch::Contains("param=api_key"));
    for (const std::string& shown : {spec->source_key, spec->source_name, spec->metric_name}) {
      CHECK_THAT(shown, !Catch::Contains(secret));
    }
  }

  SECTION("the hub's errors and the /metrics exposition show the name") {
    testing::FakeClock clock;
    MetricHub hub(clock);
    MetricsRegistry metrics;
    register_hub_metrics(metrics, hub);
    REQUIRE(hub.track(spec->source_key, spec->source_name));
    REQUIRE(hub.track(other->source_key, other->source_name));
    const auto never = hub.read(spec->source_key, 30s);
    REQUIRE_FALSE(never.ok());
    hub.publish_error(spec->source_key, "HTTP 401");
    hub.publish(other->source_key, 1);
    const auto failed = hub.read(spec->source_key, 30s);
    REQUIRE_FALSE(failed.ok());
    const std::string exposition = metrics.render();
    for (const std::string& shown : {never.error().message, failed.error().message, exposition}) {
      CHECK_THAT(shown, !Catch::Contains(secret));
    }
    CHECK_THAT(failed.error().message, Catch::Contains("header=Authorization"));
    // Two sources with one name still make two distinct series.
    CHECK_THAT(exposition, Catch::Contains("header=Authorization") && Catch::Contains(" #2"));
  }

  SECTION("errors about the metadata never quote a secret") {
    const std::vector<Metadata> broken = {
        with(prom_metadata(), "serverAddress", "https://admin:" + secret + "@mimir:8080"),
        with(prom_metadata(), "serverAddress", "https://admin:" + secret + "/x@mimir:8080"),
        with(prom_metadata(), "serverAddress", "ftp://admin:" + secret + "@mimir:8080"),
        with(prom_metadata(), "serverAddress", "https://mimir:8080/?key=" + secret),
        with(prom_metadata(), "customHeaders", "Authorization=Bearer " + secret + ",broken"),
        with(prom_metadata(), "customHeaders", "Authorization=Bearer=" + secret),
        with(prom_metadata(), "customHeaders", "Bad Name=" + secret),
        with(prom_metadata(), "customHeaders", "Authorization=" + secret + "\x01"),
        with(prom_metadata(), "queryParameters", "api_key=" + secret + ",broken"),
    };
    for (const auto& metadata : broken) {
      const std::string message = error_of(metadata);
      INFO(message);
      CHECK_THAT(message, !Catch::Contains(secret));
    }
  }
}
