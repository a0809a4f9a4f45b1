#include "providers/provider_http.h"

#include <catch2/catch.hpp>

#include <deque>

#include "fakes/fake_clock.h"

using namespace ballast;
using namespace ballast::providers;
using namespace std::chrono_literals;

namespace {

net::HttpClientResponse reply(int status, std::map<std::string, std::string> headers = {}) {
  return {status, std::move(headers), ""};
}

// A transport that plays back scripted answers and records when each request went out.
struct Script {
  testing::FakeClock clock;
  std::deque<Result<net::HttpClientResponse>> answers;
  std::vector<Clock::time_point> sent;
  std::vector<std::chrono::nanoseconds> sleeps;

  ProviderContext context(ResilienceOptions options) {
    ProviderContext c;
    c.clock = &clock;
    c.transport = [this](const net::HttpClientRequest&) -> Result<net::HttpClientResponse> {
      sent.push_back(clock.now());
      if (answers.empty()) return reply(200);
      auto next = answers.front();
      answers.pop_front();
      return next;
    };
    c.sleep = [this](std::chrono::nanoseconds d) {
      sleeps.push_back(d);
      clock.advance(d);
    };
    options.jitter = 0;
    c.resilience = options;
    return c;
  }
};

net::HttpClientRequest get() {
  net::HttpClientRequest r;
  r.url = "http://127.0.0.1:1/";
  return r;
}

}  // namespace

TEST_CASE("rate limiter serves a burst at once and then spaces requests by the rate") {
  testing::FakeClock clock;
  RateLimiter limiter(clock, 2.0, 3);
  CHECK(limiter.reserve() == 0ns);
  CHECK(limiter.reserve() == 0ns);
  CHECK(limiter.reserve() == 0ns);
  CHECK(limiter.reserve() == 500ms);
  CHECK(limiter.reserve() == 1000ms);
  clock.advance(10s);
  CHECK(limiter.reserve() == 0ns);
}

TEST_CASE("rate limiter holds every request until a 429 pause ends") {
  testing::FakeClock clock;
  RateLimiter limiter(clock, 100.0, 10);
  limiter.pause_until(clock.now() + 7s);
  CHECK(limiter.reserve() == 7s);
  clock.advance(7s);
  CHECK(limiter.reserve() == 0ns);
}

TEST_CASE("circuit breaker opens after consecutive failures, half-opens after the cool-down, closes on success") {
  testing::FakeClock clock;
  CircuitBreaker breaker(clock, 3, 30s);
  breaker.record_failure();
  breaker.record_failure();
  breaker.record_success();  // a success resets the count
  breaker.record_failure();
  breaker.record_failure();
  CHECK(breaker.state() == CircuitBreaker::State::kClosed);
  breaker.record_failure();
  CHECK(breaker.state() == CircuitBreaker::State::kOpen);
  CHECK_FALSE(breaker.allow());
  clock.advance(30s);
  CHECK(breaker.allow());  // the probe
  CHECK(breaker.state() == CircuitBreaker::State::kHalfOpen);
  CHECK_FALSE(breaker.allow());  // only one probe at a time
  breaker.record_success();
  CHECK(breaker.state() == CircuitBreaker::State::kClosed);
  CHECK(breaker.allow());
}

TEST_CASE("circuit breaker re-opens when the half-open probe fails") {
  testing::FakeClock clock;
  CircuitBreaker breaker(clock, 1, 10s);
  breaker.record_failure();
  clock.advance(10s);
  REQUIRE(breaker.allow());
  breaker.record_failure();
  CHECK(breaker.state() == CircuitBreaker::State::kOpen);
  CHECK_FALSE(breaker.allow());
  clock.advance(10s);
  CHECK(breaker.allow());
}

TEST_CASE("5xx answers are retried with exponential backoff until one succeeds") {
  Script script;
  ResilienceOptions options;
  options.initial_backoff = 100ms;
  options.backoff_multiplier = 2;
  ProviderHttp http("test", script.context(options));
  script.answers = {reply(503), reply(500), reply(200)};
  auto result = http.send(get());
  REQUIRE(result.ok());
  CHECK(result->status == 200);
  REQUIRE(script.sleeps.size() == 2);
  CHECK(script.sleeps[0] == 100ms);
  CHECK(script.sleeps[1] == 200ms);
}

TEST_CASE("transport failures are retried and give kUnavailable after the last attempt") {
  Script script;
  ResilienceOptions options;
  options.max_attempts = 3;
  options.breaker_threshold = 10;
  ProviderHttp http("test", script.context(options));
  for (int i = 0; i < 3; ++i) script.answers.push_back(unavailable("connection refused"));
  auto result = http.send(get());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::kUnavailable);
  CHECK(script.sent.size() == 3);
}

TEST_CASE("a request that may have been carried out is sent once, unless the server refused it with 429") {
  struct Case {
    const char* what;
    Result<net::HttpClientResponse> first;
    size_t sent;
    bool ok;
  };
  const Case cases[] = {
      {"connection lost after sending", unavailable("connection lost"), 1, false},
      {"a 5xx may come after the work was done", reply(502), 1, false},
      {"a 429 says nothing was done", reply(429, {{"retry-after", "1"}}), 2, true},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Script script;
    ProviderHttp http("test", script.context({}));
    script.answers = {c.first, reply(201)};
    auto result = http.send(get(), Resend::kOnlyWhenRefused);
    CHECK(script.sent.size() == c.sent);
    CHECK(result.ok() == c.ok);
    if (!result.ok()) {
      CHECK(result.error().code == ErrorCode::kUnavailable);
      CHECK(result.error().message.find("not sent again") != std::string::npos);
    }
  }
}

TEST_CASE("4xx answers other than 429 are returned without a retry") {
  Script script;
  ProviderHttp http("test", script.context({}));
  script.answers = {reply(404)};
  auto result = http.send(get());
  REQUIRE(result.ok());
  CHECK(result->status == 404);
  CHECK(script.sent.size() == 1);
}

TEST_CASE("a 429 with Retry-After holds the next attempt for that many seconds") {
  Script script;
  ProviderHttp http("test", script.context({}));
  script.answers = {reply(429, {{"retry-after", "12"}}), reply(200)};
  auto result = http.send(get());
  REQUIRE(result.ok());
  REQUIRE(script.sent.size() == 2);
  CHECK(script.sent[1] - script.sent[0] == 12s);
  CHECK(http.breaker_state() == CircuitBreaker::State::kClosed);
}

TEST_CASE("a 429 without Retry-After backs off exponentially") {
  Script script;
  ResilienceOptions options;
  options.initial_backoff = 1s;
  ProviderHttp http("test", script.context(options));
  script.answers = {reply(429), reply(429), reply(200)};
  REQUIRE(http.send(get()).ok());
  REQUIRE(script.sent.size() == 3);
  CHECK(script.sent[1] - script.sent[0] == 1s);
  CHECK(script.sent[2] - script.sent[1] == 2s);
}

TEST_CASE("throttling that outlasts the attempts gives kTooManyRequests") {
  Script script;
  ResilienceOptions options;
  options.max_attempts = 2;
  ProviderHttp http("test", script.context(options));
  script.answers = {reply(429, {{"retry-after", "1"}}), reply(429, {{"retry-after", "1"}})};
  auto result = http.send(get());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::kTooManyRequests);
}

TEST_CASE("retries stop when the call's total time budget would be exceeded") {
  Script script;
  ResilienceOptions options;
  options.max_attempts = 100;
  options.initial_backoff = 10s;
  options.max_total = 25s;
  options.breaker_threshold = 100;
  ProviderHttp http("test", script.context(options));
  for (int i = 0; i < 100; ++i) script.answers.push_back(reply(502));
  auto result = http.send(get());
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::kUnavailable);
  CHECK(script.sent.size() == 2);  // 10 s, then 20 s more would pass 25 s
}

TEST_CASE("an open breaker fails fast with the provider's name until the cool-down passes") {
  Script script;
  ResilienceOptions options;
  options.max_attempts = 1;
  options.breaker_threshold = 2;
  options.breaker_cooldown = 30s;
  ProviderHttp http("vpsie", script.context(options));
  script.answers = {reply(500), reply(500)};
  CHECK_FALSE(http.send(get()).ok());
  CHECK_FALSE(http.send(get()).ok());
  CHECK(http.breaker_state() == CircuitBreaker::State::kOpen);
  auto blocked = http.send(get());
  REQUIRE_FALSE(blocked.ok());
  CHECK(blocked.error().code == ErrorCode::kUnavailable);
  CHECK(blocked.error().message == "circuit open for vpsie");
  CHECK(script.sent.size() == 2);
  script.clock.advance(30s);
  REQUIRE(http.send(get()).ok());  // the half-open probe succeeds
  CHECK(http.breaker_state() == CircuitBreaker::State::kClosed);
}

TEST_CASE("a 429 with a Retry-After of centuries waits the configured maximum") {
  Script s;
  s.answers = {reply(429, {{"retry-after", "9223372036854"}}), reply(200)};
  ResilienceOptions options;
  options.max_retry_after = std::chrono::seconds(300);
  options.max_total = std::chrono::hours(1);
  ProviderHttp http("fake", s.context(options));
  auto result = http.send(get());
  REQUIRE(result.ok());
  REQUIRE(s.sent.size() == 2);
  CHECK(s.sent[1] - s.sent[0] == std::chrono::seconds(300));
}

TEST_CASE("request ids are version 4 UUIDs") {
  const std::string id = make_uuid();
  REQUIRE(id.size() == 36);
  CHECK(id[14] == '4');
  CHECK(std::string("89ab").find(id[19]) != std::string::npos);
  CHECK(make_uuid() != id);
}

TEST_CASE("status errors map HTTP statuses to error codes") {
  CHECK(status_error("p", "x", reply(404)).code == ErrorCode::kNotFound);
  CHECK(status_error("p", "x", reply(429)).code == ErrorCode::kTooManyRequests);
  CHECK(status_error("p", "x", reply(503)).code == ErrorCode::kUnavailable);
  CHECK(status_error("p", "x", reply(401)).code == ErrorCode::kInvalidArgument);
}

TEST_CASE("the token cache logs in once, again before expiry, on demand, and not after a failed login") {
  TimePoint now = *parse_time("2026-11-22T10:00:00Z");
  int logins = 0;
  bool refuse = false;
  TokenCache cache([&] { return now; }, 30s, [&](TimePoint at) -> Result<TokenCache::Token> {
    if (refuse) return Error{ErrorCode::kIo, "login refused"};
    ++logins;
    return TokenCache::Token{"token-" + std::to_string(logins), at + 300s};
  });
  struct Step {
    std::chrono::seconds advance;
    bool force;
    bool refuse;
    std::string expect;  // the token, or "error"
  };
  const std::vector<Step> steps = {
      {0s, false, false, "token-1"},    // first use logs in
      {200s, false, false, "token-1"},  // cached
      {71s, false, false, "token-2"},   // 29 s before expiry: renewed
      {0s, true, false, "token-3"},     // a 401 forces a new login
      {0s, true, true, "error"},        // a refused login is an error, not an old token
      {0s, false, false, "token-3"},    // the token that was good stays good
  };
  for (const auto& step : steps) {
    now += step.advance;
    refuse = step.refuse;
    auto token = cache.get(step.force);
    CHECK((token.ok() ? *token : std::string("error")) == step.expect);
  }
}

TEST_CASE("every exchange with a provider is counted by provider, method and status, and timed, without the URL") {
  Script script;
  MetricsRegistry metrics;
  ResilienceOptions options;
  options.max_attempts = 3;
  auto context = script.context(options);
  context.metrics = &metrics;
  script.answers = {reply(503), Error{ErrorCode::kUnavailable, "connection refused"}, reply(200)};
  ProviderHttp http("contabo", context);
  net::HttpClientRequest request;
  request.method = "POST";
  request.url = "https://api.example/v1/compute/instances?token=secret-value";
  REQUIRE(http.send(request).ok());
  const std::string text = metrics.render();
  CHECK(text.find(R"(ballast_provider_api_requests_total{provider="contabo",method="POST",status="503"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(ballast_provider_api_requests_total{provider="contabo",method="POST",status="error"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(ballast_provider_api_requests_total{provider="contabo",method="POST",status="200"} 1)") !=
        std::string::npos);
  CHECK(text.find(R"(ballast_provider_api_request_duration_seconds_count{provider="contabo",method="POST"} 3)") !=
        std::string::npos);
  CHECK(text.find("secret-value") == std::string::npos);
  CHECK(text.find("api.example") == std::string::npos);
}
