#include "core/net_address.h"

#include <catch2/catch.hpp>

using namespace ballast;

TEST_CASE("redacted URLs keep where they point and lose credentials and queries", "[net_address]") {
  struct Row {
    const char* url;
    const char* shown;
  };
  const Row rows[] = {
      {"https://mimir:8080/prometheus", "https://mimir:8080/prometheus"},
      {"https://admin:hunter2@mimir:8080/prometheus", "https://REDACTED@mimir:8080/prometheus"},
      {"https://admin:hun/ter?2@mimir:8080", "https://REDACTED@mimir:8080"},  // unescaped / and ? in a password
      {"https://token@mimir", "https://REDACTED@mimir"},
      {"https://mimir/api?key=hunter2", "https://mimir/api?REDACTED"},
      {"https://mimir/api#hunter2", "https://mimir/api?REDACTED"},
      {"admin:hunter2@mimir:8080", "REDACTED@mimir:8080"},  // no scheme
      {"", ""},
  };
  for (const auto& row : rows) {
    INFO(row.url);
    CHECK(redact_url(row.url) == row.shown);
  }
}
