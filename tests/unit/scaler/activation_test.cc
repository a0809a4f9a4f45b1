#include "scaler/activation.h"

#include <catch2/catch.hpp>
#include <limits>

using namespace ballast::scaler;

TEST_CASE("a trigger is active only strictly above its activation threshold", "[activation]") {
  struct Row {
    double activation;
    double value;
    bool active;
  };
  const Row rows[] = {{0, 0, false}, {0, 0.001, true}, {0, 1, true}, {5, 5, false}, {5, 5.1, true}, {-1, 0, true}};
  for (const auto& row : rows) {
    TriggerSpec spec;
    spec.activation_threshold = row.activation;
    INFO("activation " << row.activation << ", value " << row.value);
    CHECK(is_active(spec, Sample{row.value, row.value, {}}) == row.active);
  }
}

TEST_CASE("activation reads the activation value, not the metric", "[activation]") {
  TriggerSpec spec;
  spec.activation_threshold = 0;
  CHECK(is_active(spec, Sample{0, 5, {}}));  // persistent lag hidden from the metric still wakes
  CHECK_FALSE(is_active(spec, Sample{5, 0, {}}));
}

TEST_CASE("a push stream sends the first state, then only flips", "[activation]") {
  ActivationEdges edges;
  const std::vector<bool> observed = {false, false, true, true, true, false, true, true};
  std::vector<bool> sent;
  for (bool active : observed) {
    if (auto edge = edges.observe(active)) sent.push_back(*edge);
  }
  CHECK(sent == std::vector<bool>{false, true, false, true});
}

TEST_CASE("a stream that starts active sends true once", "[activation]") {
  ActivationEdges edges;
  CHECK(edges.observe(true) == std::optional<bool>(true));
  CHECK_FALSE(edges.observe(true).has_value());
}

TEST_CASE("wire values agree in int and float, never go negative or NaN, and saturate", "[activation]") {
  struct Row {
    double value;
    int64_t integer;
    double floating;
  };
  const Row rows[] = {{0, 0, 0},
                      {2.4, 2, 2.4},
                      {2.5, 3, 2.5},
                      {-3, 0, 0},
                      {std::numeric_limits<double>::quiet_NaN(), 0, 0},
                      {-std::numeric_limits<double>::infinity(), 0, 0},
                      // Huge loads saturate: never a silent 0 (two 1e308 series sum to +inf),
                      // never INT64_MIN (2^63 and up converted to int64).
                      {std::numeric_limits<double>::infinity(), 9'000'000'000'000'000, kMaxWireValue},
                      {1e308, 9'000'000'000'000'000, kMaxWireValue},
                      {9223372036854775808.0, 9'000'000'000'000'000, kMaxWireValue},
                      {kMaxWireValue - 2, 8'999'999'999'999'998, kMaxWireValue - 2}};
  for (const auto& row : rows) {
    INFO(row.value);
    const auto wire = wire_value(row.value);
    CHECK(wire.integer == row.integer);
    CHECK(wire.floating == row.floating);
  }
}

TEST_CASE("expected replicas follow KEDA and the HPA for AverageValue", "[activation]") {
  struct Row {
    double value;
    double target;
    bool active;
    int64_t min;
    int64_t max;
    int64_t expected;
  };
  const Row rows[] = {
      {0, 2, false, 0, 10, 0},   // idle, scale to zero
      {0, 2, false, 1, 10, 1},   // idle, min 1
      {1, 2, true, 0, 10, 1},    // active wakes to at least 1
      {5, 2, true, 0, 10, 3},    // ceil(5/2)
      {50, 2, true, 0, 10, 10},  // capped at max
      {4, 2, true, 3, 10, 3},    // held at min
      {1e308, 1e-308, true, 0, 10, 10},  // a ratio past int64 is capped, not converted
  };
  for (const auto& row : rows) {
    CHECK(expected_replicas(row.value, row.target, row.active, row.min, row.max) == row.expected);
  }
}
