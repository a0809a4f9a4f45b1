#include "sources/sessions/session_registry.h"

#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "fakes/fake_clock.h"

namespace ballast::sessions {
namespace {

using namespace std::chrono_literals;
using LabelList = std::vector<std::pair<std::string, std::string>>;

scaler::TriggerSpec sessions_spec(std::string key, std::string counter, LabelList selector = {}) {
  scaler::TriggerSpec spec;
  spec.source = scaler::SourceKind::kSessions;
  spec.source_key = std::move(key);
  spec.detail = scaler::SessionsTrigger{std::move(counter), std::move(selector)};
  return spec;
}

Frame value_frame(std::string counter, LabelList labels, double amount) {
  return Frame{std::move(counter), std::move(labels), Frame::Kind::kValue, amount};
}

Frame delta_frame(std::string counter, LabelList labels, double amount) {
  return Frame{std::move(counter), std::move(labels), Frame::Kind::kDelta, amount};
}

struct Fixture {
  testing::FakeClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  SessionRegistry registry{hub, metrics};

  double value(const std::string& key) {
    const auto sample = hub.read(key, 1h);
    REQUIRE(sample.ok());
    return sample->value;
  }

  void apply_ok(uint64_t connection, const Frame& frame) {
    const auto status = registry.apply(connection, frame);
    REQUIRE(status.ok());
  }
};

TEST_CASE("a value frame sets the connection's gauge for its series", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {}, 42));
  CHECK(f.value("k") == 42);
  f.apply_ok(conn, value_frame("active", {}, 7));
  CHECK(f.value("k") == 7);
}

TEST_CASE("a delta frame adds to the series' gauge", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {}, 10));
  f.apply_ok(conn, delta_frame("active", {}, 5));
  CHECK(f.value("k") == 15);
  f.apply_ok(conn, delta_frame("active", {}, -3));
  CHECK(f.value("k") == 12);
}

TEST_CASE("a delta never takes a gauge below zero", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {}, 2));
  f.apply_ok(conn, delta_frame("active", {}, -5));
  CHECK(f.value("k") == 0);
  f.apply_ok(conn, delta_frame("active", {}, 1));
  CHECK(f.value("k") == 1);
}

TEST_CASE("a delta on a new series starts from zero", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, delta_frame("active", {}, -1));
  CHECK(f.value("k") == 0);
  f.apply_ok(conn, delta_frame("active", {}, 3));
  CHECK(f.value("k") == 3);
}

TEST_CASE("a watch sums only the series whose labels contain every selector pair", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("signaling", "active", {{"service", "signaling"}}));
  f.registry.watch(sessions_spec("signaling-eu", "active", {{"region", "eu"}, {"service", "signaling"}}));
  f.registry.watch(sessions_spec("all", "active"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {{"region", "eu"}, {"service", "signaling"}}, 1));
  f.apply_ok(conn, value_frame("active", {{"region", "us"}, {"service", "signaling"}}, 10));
  f.apply_ok(conn, value_frame("active", {{"service", "media"}}, 100));
  f.apply_ok(conn, value_frame("active", {{"service", "signalingx"}}, 1000));
  f.apply_ok(conn, value_frame("active", {}, 10000));
  CHECK(f.value("signaling") == 11);
  CHECK(f.value("signaling-eu") == 1);
  CHECK(f.value("all") == 11111);
}

TEST_CASE("a watch counts only its own counter", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {}, 1));
  f.apply_ok(conn, value_frame("active_total", {}, 50));
  f.apply_ok(conn, value_frame("other", {}, 50));
  CHECK(f.value("k") == 1);
}

TEST_CASE("sums add up across connections", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active", {{"service", "signaling"}}));
  const auto a = f.registry.open_connection();
  const auto b = f.registry.open_connection();
  const auto c = f.registry.open_connection();
  CHECK(a != b);
  f.apply_ok(a, value_frame("active", {{"service", "signaling"}}, 3));
  f.apply_ok(b, value_frame("active", {{"service", "signaling"}}, 4));
  f.apply_ok(c, value_frame("active", {{"pod", "p1"}, {"service", "signaling"}}, 5));
  CHECK(f.value("k") == 12);
  f.apply_ok(b, delta_frame("active", {{"service", "signaling"}}, -4));
  CHECK(f.value("k") == 8);
}

TEST_CASE("a closed connection's contributions vanish from every sum", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("active", "active"));
  f.registry.watch(sessions_spec("rooms", "rooms"));
  const auto staying = f.registry.open_connection();
  const auto leaving = f.registry.open_connection();
  f.apply_ok(staying, value_frame("active", {}, 2));
  f.apply_ok(leaving, value_frame("active", {{"pod", "a"}}, 5));
  f.apply_ok(leaving, value_frame("active", {{"pod", "b"}}, 6));
  f.apply_ok(leaving, value_frame("rooms", {}, 9));
  f.registry.close_connection(leaving);
  CHECK(f.value("active") == 2);
  CHECK(f.value("rooms") == 0);

  SECTION("closing it again changes nothing") {
    f.registry.close_connection(leaving);
    CHECK(f.value("active") == 2);
  }
  SECTION("frames for it are refused as not open") {
    const auto status = f.registry.apply(leaving, value_frame("active", {}, 1));
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == ErrorCode::kNotFound);
    CHECK(f.value("active") == 2);
  }
}

TEST_CASE("fractional values leave no residue once their series are gone", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "load"));
  std::vector<uint64_t> connections;
  for (double amount : {0.1, 0.2, 0.7, 1e-9, 3.3}) {
    connections.push_back(f.registry.open_connection());
    f.apply_ok(connections.back(), value_frame("load", {}, amount));
  }
  for (auto conn : connections) f.registry.close_connection(conn);
  CHECK(f.value("k") == 0.0);
}

TEST_CASE("a connection may hold 256 series and the 257th is refused without effect", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "c"));
  const auto conn = f.registry.open_connection();
  for (int i = 0; i < 256; ++i) f.apply_ok(conn, value_frame("c", {{"i", std::to_string(i)}}, 1));
  CHECK(f.value("k") == 256);

  const auto refused = f.registry.apply(conn, value_frame("c", {{"i", "256"}}, 1));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kTooManyRequests);
  CHECK_THAT(refused.error().message, Catch::Matchers::Contains("256 series"));
  CHECK(f.value("k") == 256);

  // Existing series stay writable, and the limit is per connection.
  f.apply_ok(conn, value_frame("c", {{"i", "0"}}, 5));
  const auto other = f.registry.open_connection();
  f.apply_ok(other, value_frame("c", {{"i", "256"}}, 1));
  CHECK(f.value("k") == 261);
}

TEST_CASE("series caps per token and per replica refuse the next new series, naming the flag",
          "[sessions][registry]") {
  struct Case {
    const char* name;
    size_t max_series;
    size_t max_series_per_token;
    std::vector<size_t> tokens;     // one connection per entry, in order
    std::vector<size_t> accepted;   // new series each connection got before its first refusal
    const char* last_refusal_flag;  // named by the last connection's refusal
  };
  const Case cases[] = {
      {"one token's connections share its cap", 100, 6, {0, 0}, {6, 0}, "(--sessions-max-series-per-token)"},
      {"another token has a cap of its own", 100, 6, {0, 1}, {6, 6}, "(--sessions-max-series-per-token)"},
      {"the replica's cap binds across tokens", 8, 6, {0, 1}, {6, 2}, "(--sessions-max-series)"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) {
      testing::FakeClock clock;
      scaler::MetricHub hub{clock};
      MetricsRegistry metrics;
      RegistryOptions options;
      options.max_series = c.max_series;
      options.max_series_per_token = c.max_series_per_token;
      SessionRegistry registry{hub, metrics, options};
      std::vector<size_t> accepted;
      std::string refusal;
      int next_series = 0;
      for (const size_t token : c.tokens) {
        const auto conn = registry.open_connection("", token);
        accepted.push_back(0);
        for (int attempt = 0; attempt < 20; ++attempt) {
          const auto status = registry.apply(conn, value_frame("c", {{"i", std::to_string(next_series++)}}, 1));
          if (!status.ok()) {
            CHECK(status.error().code == ErrorCode::kTooManyRequests);
            refusal = status.error().message;
            break;
          }
          ++accepted.back();
        }
      }
      CHECK(accepted == c.accepted);
      CHECK_THAT(refusal, Catch::Matchers::Contains(c.last_refusal_flag));
    }
  }
}

TEST_CASE("a closed connection gives its series back to its token and to the replica", "[sessions][registry]") {
  testing::FakeClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  RegistryOptions options;
  options.max_series = 4;
  options.max_series_per_token = 2;
  SessionRegistry registry{hub, metrics, options};
  const auto first = registry.open_connection("", 3);
  REQUIRE(registry.apply(first, value_frame("c", {{"i", "0"}}, 1)).ok());
  REQUIRE(registry.apply(first, value_frame("c", {{"i", "1"}}, 1)).ok());
  const auto second = registry.open_connection("", 3);
  CHECK_FALSE(registry.apply(second, value_frame("c", {{"i", "2"}}, 1)).ok());
  // An existing series stays writable at the cap.
  CHECK(registry.apply(first, value_frame("c", {{"i", "0"}}, 9)).ok());
  registry.close_connection(first);
  CHECK(registry.apply(second, value_frame("c", {{"i", "2"}}, 1)).ok());
  CHECK(registry.apply(second, value_frame("c", {{"i", "3"}}, 1)).ok());
}

TEST_CASE("a delta that would overflow is refused without effect", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "c"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("c", {}, 1.5e308));
  const auto refused = f.registry.apply(conn, delta_frame("c", {}, 1.5e308));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  CHECK(f.value("k") == 1.5e308);
}

TEST_CASE("a sum that overflowed becomes exact again when the large series leave", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "c"));
  const auto big = f.registry.open_connection();
  const auto small = f.registry.open_connection();
  f.apply_ok(small, value_frame("c", {}, 3));
  f.apply_ok(big, value_frame("c", {{"n", "1"}}, 1.5e308));
  f.apply_ok(big, value_frame("c", {{"n", "2"}}, 1.5e308));
  f.registry.close_connection(big);
  CHECK(f.value("k") == 3);
}

TEST_CASE("watch publishes the current sum at once", "[sessions][registry]") {
  Fixture f;
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {{"service", "a"}}, 4));
  f.apply_ok(conn, value_frame("active", {{"service", "b"}}, 5));

  f.registry.watch(sessions_spec("a", "active", {{"service", "a"}}));
  CHECK(f.value("a") == 4);
  f.registry.watch(sessions_spec("none", "idle"));
  CHECK(f.value("none") == 0);

  SECTION("and keeps it up to date afterwards") {
    f.apply_ok(conn, delta_frame("active", {{"service", "a"}}, 1));
    CHECK(f.value("a") == 5);
    f.registry.close_connection(conn);
    CHECK(f.value("a") == 0);
  }
  SECTION("watching the same key again keeps one sum") {
    f.registry.watch(sessions_spec("a", "active", {{"service", "a"}}));
    f.apply_ok(conn, delta_frame("active", {{"service", "a"}}, 1));
    CHECK(f.value("a") == 5);
  }
}

TEST_CASE("refresh re-publishes every watched sum so it never goes stale", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("a", "active"));
  f.registry.watch(sessions_spec("b", "rooms"));
  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {}, 3));

  f.clock.advance(10s);
  CHECK_FALSE(f.hub.read("a", 5s).ok());
  CHECK_FALSE(f.hub.read("b", 5s).ok());

  f.registry.refresh();
  const auto a = f.hub.read("a", 5s);
  const auto b = f.hub.read("b", 5s);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->value == 3);
  CHECK(b->value == 0);
}

TEST_CASE("a sum is published only when it changes", "[sessions][registry]") {
  Fixture f;
  f.registry.watch(sessions_spec("k", "active", {{"service", "a"}}));
  std::vector<double> published;
  auto subscription = f.hub.subscribe("k", [&published](const scaler::Sample& sample) { published.push_back(sample.value); });

  const auto conn = f.registry.open_connection();
  f.apply_ok(conn, value_frame("active", {{"service", "a"}}, 2));
  f.apply_ok(conn, value_frame("active", {{"service", "a"}}, 2));
  f.apply_ok(conn, delta_frame("active", {{"service", "a"}}, 0));
  f.apply_ok(conn, value_frame("active", {{"service", "b"}}, 9));
  f.apply_ok(conn, value_frame("other", {{"service", "a"}}, 9));
  f.apply_ok(conn, value_frame("active", {{"service", "a"}, {"zone", "z"}}, 0));
  f.apply_ok(conn, delta_frame("active", {{"service", "a"}}, 1));
  f.registry.close_connection(conn);
  CHECK(published == std::vector<double>{2, 3, 0});
}

TEST_CASE("watches for other sources are ignored", "[sessions][registry]") {
  Fixture f;
  auto spec = sessions_spec("k", "active");
  spec.source = scaler::SourceKind::kKafka;
  f.registry.watch(spec);
  CHECK_FALSE(f.hub.read("k", 1h).ok());
}

TEST_CASE("metrics follow connections, series and frames", "[sessions][registry]") {
  Fixture f;
  auto& connections = f.metrics.gauge("ballast_sessions_connections", "");
  auto& series = f.metrics.gauge("ballast_sessions_series", "");
  auto& ok = f.metrics.counter("ballast_sessions_frames_total", "", {{"result", "ok"}});
  auto& invalid = f.metrics.counter("ballast_sessions_frames_total", "", {{"result", "invalid"}});

  const auto a = f.registry.open_connection();
  const auto b = f.registry.open_connection();
  f.apply_ok(a, value_frame("c", {{"i", "1"}}, 1));
  f.apply_ok(a, value_frame("c", {{"i", "2"}}, 1));
  f.apply_ok(a, value_frame("c", {{"i", "2"}}, 3));
  f.apply_ok(b, value_frame("c", {}, 1));
  f.registry.count_invalid_frame();
  CHECK(connections.value() == 2);
  CHECK(series.value() == 3);
  CHECK(ok.value() == 4);
  CHECK(invalid.value() == 1);

  f.registry.close_connection(a);
  CHECK(connections.value() == 1);
  CHECK(series.value() == 1);
}

}  // namespace
}  // namespace ballast::sessions
