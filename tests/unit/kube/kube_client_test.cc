#include "kube/kube_client.h"

#include <catch2/catch.hpp>

namespace {

using namespace std::chrono_literals;
using ballast::kube::throttle_wait;

TEST_CASE("a call the apiserver shed is repeated only when it said when, within the call's time") {
  struct Case {
    const char* what;
    int status;
    std::optional<std::chrono::seconds> retry_after;
    int retries_left;
    std::chrono::milliseconds time_left;
    std::optional<std::chrono::milliseconds> wait;
  };
  const Case cases[] = {
      {"429 with Retry-After waits as told", 429, 2s, 5, 15s, 2000ms},
      {"503 with Retry-After waits too (client-go's rule)", 503, 1s, 5, 15s, 1000ms},
      {"500 with Retry-After 0 repeats at once", 500, 0s, 5, 15s, 0ms},
      {"a long Retry-After is capped", 429, 600s, 5, 60s, 10000ms},
      {"429 without Retry-After is answered now", 429, std::nullopt, 5, 15s, std::nullopt},
      {"500 without Retry-After is answered now", 500, std::nullopt, 5, 15s, std::nullopt},
      {"409 is never repeated, whatever it carries", 409, 1s, 5, 15s, std::nullopt},
      {"404 is never repeated", 404, 1s, 5, 15s, std::nullopt},
      {"no retries left", 429, 1s, 0, 15s, std::nullopt},
      {"the wait would outlast the call", 429, 3s, 5, 2500ms, std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    CHECK(throttle_wait(c.status, c.retry_after, c.retries_left, 10s, c.time_left) == c.wait);
  }
}

}  // namespace
