#include "core/duration.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;

TEST_CASE("durations parse the way Kubernetes users write them", "[duration]") {
  struct Row {
    const char* text;
    std::chrono::milliseconds expected;
  };
  const Row rows[] = {{"30s", 30s}, {"1m", 60s},   {"1m30s", 90s}, {"500ms", 500ms}, {"2h", 2h},
                      {"1.5s", 1500ms}, {"0s", 0ms}, {"45", 45s},    {"1h2m3s", 3723s}};
  for (const auto& row : rows) {
    INFO(row.text);
    auto parsed = ballast::parse_duration(row.text);
    REQUIRE(parsed.ok());
    CHECK(*parsed == row.expected);
  }
}

TEST_CASE("malformed durations are errors that quote the input", "[duration]") {
  for (const char* text : {"", "s", "10x", "-5s", "1m-", "abc", "1..2s"}) {
    INFO(text);
    auto parsed = ballast::parse_duration(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ballast::ErrorCode::kInvalidArgument);
  }
}
