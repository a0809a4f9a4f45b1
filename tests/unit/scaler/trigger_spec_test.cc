#include "scaler/trigger_spec.h"

#include <catch2/catch.hpp>

#include "fakes/metadata_edits.h"

using namespace ballast;
using namespace ballast::scaler;
using ballast::testing::with;
using ballast::testing::without;
using namespace std::chrono_literals;

namespace {

Metadata sessions_metadata() {
  return {{"source", "sessions"}, {"counter", "active_interviews"}, {"threshold", "2"}};
}

}  // namespace

TEST_CASE("a minimal sessions trigger gets the documented defaults", "[trigger]") {
  auto spec = parse_trigger(sessions_metadata());
  REQUIRE(spec.ok());
  CHECK(spec->source == SourceKind::kSessions);
  CHECK(spec->threshold == 2);
  CHECK(spec->activation_threshold == 0);
  CHECK(spec->max_staleness == 30s);
  CHECK(spec->metric_name == "sessions-active-interviews");
  const auto& sessions = std::get<SessionsTrigger>(spec->detail);
  CHECK(sessions.counter == "active_interviews");
  CHECK(sessions.selector.empty());
}

TEST_CASE("every sessions key is read", "[trigger]") {
  auto metadata = sessions_metadata();
  metadata["selector"] = "service=interview,region=eu";
  metadata["activationThreshold"] = "1.5";
  metadata["maxStaleness"] = "1m";
  metadata["metricName"] = "interviews";
  metadata["auth"] = "default";
  // Keys KEDA reads itself arrive too and are accepted.
  metadata["scalerAddress"] = "ballast.ballast-system.svc:9090";
  metadata["enableTLS"] = "true";
  auto spec = parse_trigger(metadata);
  REQUIRE(spec.ok());
  CHECK(spec->activation_threshold == 1.5);
  CHECK(spec->max_staleness == 60s);
  CHECK(spec->metric_name == "interviews");
  CHECK(spec->auth == "default");
  const auto& sessions = std::get<SessionsTrigger>(spec->detail);
  const std::vector<std::pair<std::string, std::string>> expected = {{"region", "eu"}, {"service", "interview"}};
  CHECK(sessions.selector == expected);
}

TEST_CASE("bad metadata is INVALID_ARGUMENT naming the key", "[trigger]") {
  struct Row {
    Metadata metadata;
    const char* key_in_message;
  };
  const std::vector<Row> rows = {
      {without(sessions_metadata(), "source"), "source"},
      {with(sessions_metadata(), "source", "redis"), "source"},
      {with(sessions_metadata(), "source", "kafka"), "source"},
      {without(sessions_metadata(), "counter"), "counter"},
      {with(sessions_metadata(), "counter", "bad counter!"), "counter"},
      {without(sessions_metadata(), "threshold"), "threshold"},
      {with(sessions_metadata(), "threshold", "0"), "threshold"},
      {with(sessions_metadata(), "threshold", "-3"), "threshold"},
      {with(sessions_metadata(), "threshold", "ten"), "threshold"},
      {with(sessions_metadata(), "threshold", "nan"), "threshold"},
      {with(sessions_metadata(), "threshold", "inf"), "threshold"},
      {with(sessions_metadata(), "activationThreshold", "x"), "activationThreshold"},
      {with(sessions_metadata(), "maxStaleness", "soon"), "maxStaleness"},
      {with(sessions_metadata(), "maxStaleness", "0s"), "maxStaleness"},
      {with(sessions_metadata(), "pollInterval", "-1s"), "pollInterval"},
      {with(sessions_metadata(), "selector", "service"), "selector"},
      {with(sessions_metadata(), "selector", "a=1,a=2"), "selector"},
      {with(sessions_metadata(), "selector", "a=1,"), "selector"},
      {with(sessions_metadata(), "metricName", "!!!"), "metricName"},
      {with(sessions_metadata(), "treshold", "2"), "treshold"},
      {with(sessions_metadata(), "Counter", "x"), "Counter"},
      {with(sessions_metadata(), "activationTreshold", "1"), "activationTreshold"},
      {with(sessions_metadata(), "maxStalenes", "1m"), "maxStalenes"},
  };
  for (const auto& row : rows) {
    INFO(row.key_in_message);
    auto spec = parse_trigger(row.metadata);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.error().code == ErrorCode::kInvalidArgument);
    CHECK(spec.error().message.find(row.key_in_message) != std::string::npos);
  }
}

TEST_CASE("misspelled keys name the key they probably meant", "[trigger]") {
  auto spec = parse_trigger(with(sessions_metadata(), "treshold", "2"));
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.error().message == "unknown key \"treshold\": did you mean \"threshold\"?");
}

TEST_CASE("unrelated unknown keys and FromEnv keys are ignored", "[trigger]") {
  auto metadata = sessions_metadata();
  metadata["team"] = "voice";
  metadata["counterFromEnv"] = "resolved";
  // Compared by length first: no key-length × candidate-length table per known key.
  metadata[std::string(1u << 20, 't')] = "long";
  CHECK(parse_trigger(metadata).ok());
}

TEST_CASE("triggers on the same data share a source key whatever their thresholds", "[trigger]") {
  auto a = parse_trigger(with(sessions_metadata(), "selector", "b=2,a=1"));
  auto b = parse_trigger(with(with(sessions_metadata(), "selector", "a=1,b=2"), "threshold", "7"));
  auto c = parse_trigger(with(sessions_metadata(), "selector", "a=1"));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK(a->source_key == b->source_key);
  CHECK(a->metric_name == b->metric_name);
  CHECK(a->source_key != c->source_key);
  CHECK(a->metric_name != c->metric_name);
}

TEST_CASE("metric names are lowercase, stable and unique", "[trigger]") {
  struct Row {
    const char* raw;
    const char* expected;
  };
  const Row rows[] = {
      {"interviews", "interviews"},
      {"stt-queue-2", "stt-queue-2"},
      {"active_connections", "active-connections"},
      {"--x--", "x"},
      {"STT Queue", "stt-queue-ab527721"},
      {"stt/queue", "stt-queue-bfdba57e"},
  };
  for (const auto& row : rows) {
    INFO(row.raw);
    CHECK(normalize_metric_name(row.raw) == row.expected);
  }
  CHECK(normalize_metric_name("STT Queue") != normalize_metric_name("stt queue"));
  CHECK(normalize_metric_name(std::string(100, 'a')).size() <= 63);
  CHECK(normalize_metric_name(std::string(100, 'a')) != normalize_metric_name(std::string(101, 'a')));
}
