// Provider answers of the wrong size or shape, found by fuzz/provider_response: each must
// give an error or a sane reading, never undefined behaviour (these run under UBSan in
// `make test-unit-asan`).
#include <catch2/catch.hpp>

#include <deque>
#include <string>

#include "fakes/fake_clock.h"
#include "providers/contabo_provider.h"
#include "providers/vpsie_provider.h"

using namespace ballast;
using namespace ballast::providers;

namespace {

// Plays back scripted answers (status, body) and counts the requests.
struct Answers {
  testing::FakeClock clock;
  std::deque<net::HttpClientResponse> queue;
  int requests = 0;

  ProviderContext context() {
    ProviderContext c;
    c.clock = &clock;
    c.transport = [this](const net::HttpClientRequest&) -> Result<net::HttpClientResponse> {
      ++requests;
      if (queue.empty()) return unavailable("script ended");
      auto next = queue.front();
      queue.pop_front();
      return next;
    };
    c.sleep = [this](std::chrono::nanoseconds d) { clock.advance(d); };
    c.resilience.max_attempts = 1;
    return c;
  }
  void add(int status, std::string body) { queue.push_back({status, {}, std::move(body)}); }
};

std::unique_ptr<ContaboProvider> contabo(Answers& answers) {
  ContaboSettings settings;
  settings.api_url = "https://contabo.invalid";
  settings.auth_url = "https://auth.contabo.invalid/token";
  settings.client_id = settings.client_secret = settings.username = settings.password = "x";
  auto provider = ContaboProvider::make(settings, answers.context());
  REQUIRE(provider.ok());
  return std::move(*provider);
}

}  // namespace

// Found by fuzz/provider_response: 17800000000 s converted to nanoseconds overflowed int64.
TEST_CASE("a parked name whose time TimePoint cannot hold is not a parked instance") {
  struct Case {
    const char* display_name;
    bool parked;
  };
  const Case cases[] = {
      {"ballast-parked.general.1780000000", true},
      {"ballast-parked.general.9000000000", true},
      {"ballast-parked.general.9000000001", false},
      {"ballast-parked.general.17800000000", false},
      {"ballast-parked.general.-1780000000", false},
      {"ballast-parked.general.9223372036854775807", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.display_name);
    Answers answers;
    answers.add(200, R"({"access_token":"t","expires_in":300})");
    answers.add(200, std::string(R"({"data":[{"instanceId":1,"displayName":")") + c.display_name +
                         R"(","status":"stopped"}],"_pagination":{"totalPages":1}})");
    auto parked = contabo(answers)->parked();
    REQUIRE(parked.ok());
    CHECK(parked->size() == (c.parked ? 1u : 0u));
  }
}

TEST_CASE("a token lifetime outside 0 s to a year is clamped, not overflowed") {
  struct Case {
    const char* expires_in;
    bool logs_in_again;  // a year-long token is reused; one that expired at once is fetched again
  };
  const Case cases[] = {{"9223372036854775807", false}, {"31536000000", false}, {"-9223372036854775807", true}};
  for (const auto& c : cases) {
    CAPTURE(c.expires_in);
    Answers answers;
    const std::string token = std::string(R"({"access_token":"t","expires_in":)") + c.expires_in + "}";
    const std::string page = R"({"data":[],"_pagination":{"totalPages":1}})";
    answers.add(200, token);
    answers.add(200, page);
    if (c.logs_in_again) answers.add(200, token);
    answers.add(200, page);
    auto provider = contabo(answers);
    CHECK(provider->list("general").ok());
    CHECK(provider->list("general").ok());
    CHECK(answers.queue.empty());
  }
}

TEST_CASE("a VPSie token expiring centuries away from now logs in without overflow") {
  for (const char* expires : {"1678-01-02T00:00:00Z", "2261-12-31T00:00:00Z"}) {
    CAPTURE(expires);
    Answers answers;
    answers.add(200, std::string(R"({"accessToken":{"token":"b","expires":")") + expires + R"("}})");
    answers.add(200, R"({"error":false,"data":[]})");
    answers.add(200, R"({"error":false,"data":[]})");
    VpsieSettings settings;
    settings.api_url = "https://vpsie.invalid";
    settings.datacenter = "dc";
    settings.os_identifier = "os";
    settings.client_id = "id";
    settings.client_secret = "secret";
    auto provider = VpsieProvider::make(settings, answers.context());
    REQUIRE(provider.ok());
    CHECK((*provider)->list("general").ok());
  }
}
