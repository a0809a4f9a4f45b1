#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/metrics.h"
#include "core/result.h"
#include "core/timestamp.h"
#include "core/uuid.h"
#include "net/http_client.h"

namespace ballast::providers {

// Blocks the calling (reconciler) thread; tests pass one that advances a fake clock.
using SleepFunction = std::function<void(std::chrono::nanoseconds)>;
// Sends one request; production wraps net::HttpClient::request_sync, unit tests a script.
using Transport = std::function<Result<net::HttpClientResponse>(const net::HttpClientRequest&)>;
// Wall-clock time for things a provider stores or compares with the provider's own
// timestamps (token expiry, Contabo parking time).
using WallClock = std::function<TimePoint()>;

// How hard a provider tries before it gives up; defaults follow VPSie's own autoscaler
// (retries 100 ms → 30 s, ×2, 20 % jitter, 100 requests a minute).
struct ResilienceOptions {
  int max_attempts = 5;                                // per call, first try included
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{30'000};
  double backoff_multiplier = 2.0;
  double jitter = 0.2;                                 // ± fraction of each backoff
  std::chrono::milliseconds max_total{120'000};        // a call never waits longer in total
  double rate_per_second = 100.0 / 60.0;               // token bucket refill
  double burst = 10;                                   // token bucket size
  std::chrono::milliseconds max_retry_after{300'000};  // cap on a server's Retry-After
  int breaker_threshold = 5;                           // consecutive failed attempts that open it
  std::chrono::milliseconds breaker_cooldown{30'000};  // open → half-open
  std::chrono::milliseconds request_timeout{20'000};   // per HTTP exchange
  std::chrono::milliseconds connect_timeout{5'000};
};

// Everything a provider needs from its surroundings. The client, clock and functions
// must outlive the provider.
struct ProviderContext {
  Transport transport;  // see http_transport()
  const Clock* clock = nullptr;
  SleepFunction sleep;  // empty → std::this_thread::sleep_for
  WallClock wall_now = [] { return std::chrono::system_clock::now(); };
  ResilienceOptions resilience;
  // Every HTTP exchange is counted and timed here when set:
  // ballast_provider_api_requests_total{provider, method, status} and
  // ballast_provider_api_request_duration_seconds{provider, method}. Labels name the
  // provider type, the HTTP method and the answer's status code ("error" without one):
  // never a URL, header or body.
  MetricsRegistry* metrics = nullptr;
};

// A Transport over the project's HTTP client (request_sync). `client` must outlive it.
Transport http_transport(net::HttpClient& client);

// A provider's API base URL checked and without trailing slashes (paths are appended to
// it); kInvalidArgument naming `setting` when it does not parse.
Result<std::string> api_base_url(std::string url, const std::string& setting);

// Token bucket with a pause a 429 can impose. Thread-safe; time comes from `clock`.
class RateLimiter {
 public:
  RateLimiter(const Clock& clock, double rate_per_second, double burst);
  // Takes a token and says how long the caller must wait before using it (zero when one
  // was there). Waits are reservations: concurrent callers queue up behind each other.
  std::chrono::nanoseconds reserve();
  // Nothing goes out before `until` (a server's Retry-After).
  void pause_until(Clock::time_point until);

 private:
  void refill(Clock::time_point now);

  const Clock& clock_;
  const double rate_;
  const double burst_;
  std::mutex mutex_;
  double tokens_;
  Clock::time_point updated_;
  Clock::time_point paused_until_{};
};

// Closed → open after `threshold` consecutive failures; open fails fast until `cooldown`
// passes, then half-open lets one probe through: success closes, failure re-opens.
// Thread-safe.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  CircuitBreaker(const Clock& clock, int threshold, std::chrono::nanoseconds cooldown);

  bool allow();  // false: fail fast
  void record_success();
  void record_failure();
  void release();  // the attempt said nothing about the server's health (429, bad request)
  State state() const;

 private:
  const Clock& clock_;
  const int threshold_;
  const std::chrono::nanoseconds cooldown_;
  mutable std::mutex mutex_;
  State state_ = State::kClosed;
  int failures_ = 0;
  bool probe_in_flight_ = false;
  Clock::time_point opened_at_{};
};

// The resilience every provider call goes through: rate limiter, circuit breaker, and
// retries with exponential backoff and jitter for transport errors (kUnavailable), 5xx
// and 429 (honouring Retry-After seconds). Any other status is returned to the caller,
// which decides what a 4xx means. Errors: kUnavailable "circuit open for <provider>"
// while open, kUnavailable after retries of 5xx/transport errors, kTooManyRequests
// after retries of 429, or the transport's own non-retryable error. Owned by one
// provider; thread-safe; blocks the calling thread while it waits.
class ProviderHttp {
 public:
  ProviderHttp(std::string provider, const ProviderContext& context);

  Result<net::HttpClientResponse> send(net::HttpClientRequest request);

  CircuitBreaker::State breaker_state() const { return breaker_.state(); }
  const std::string& provider() const { return provider_; }

 private:
  std::chrono::nanoseconds jittered(std::chrono::nanoseconds backoff);
  void sleep(std::chrono::nanoseconds duration);

  // Runs one exchange through the transport, counted and timed when metrics are set.
  Result<net::HttpClientResponse> exchange(const net::HttpClientRequest& request);

  std::string provider_;
  Transport transport_;
  MetricsRegistry* metrics_;
  const Clock& clock_;
  SleepFunction sleep_;
  ResilienceOptions options_;
  RateLimiter limiter_;
  CircuitBreaker breaker_;
  std::mutex random_mutex_;
  std::mt19937_64 random_;
};

// A provider's bearer token, shared by its calls: fetched on first use, fetched again
// `refresh_before` its expiry or when a call forces it (the API answered 401), one fetch
// at a time. `fetch` logs in and returns the token and its expiry. Thread-safe; owned by
// the provider, which outlives every call.
class TokenCache {
 public:
  struct Token {
    std::string value;
    TimePoint expires;
  };
  using Fetch = std::function<Result<Token>(TimePoint now)>;

  TokenCache(WallClock now, std::chrono::seconds refresh_before, Fetch fetch)
      : now_(std::move(now)), refresh_before_(refresh_before), fetch_(std::move(fetch)) {}

  Result<std::string> get(bool force);

 private:
  const WallClock now_;
  const std::chrono::seconds refresh_before_;
  const Fetch fetch_;
  std::mutex mutex_;
  std::optional<Token> token_;
};

// Helpers the providers share.
using ballast::make_uuid;  // core/uuid.h
// Retry-After as delta seconds, at most a day; nullopt when absent or an HTTP date.
std::optional<std::chrono::seconds> parse_retry_after(const net::HttpClientResponse& response);
// The error a non-2xx answer means: 400/422 kInvalidArgument, 401/403 kInvalidArgument
// (credentials), 404 kNotFound, 409 kAlreadyExists, 429 kTooManyRequests, 5xx
// kUnavailable, else kInternal. The message has the status and at most 200 bytes of body.
Error status_error(const std::string& provider, std::string_view what, const net::HttpClientResponse& response);
// `value` when given, else the trimmed contents of `file`; kInvalidArgument when neither.
Result<std::string> resolve_secret(const std::string& value, const std::string& file, std::string_view what);
// application/x-www-form-urlencoded body.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
inline bool is_success(int status) { return status >= 200 && status < 300; }

// A field of a provider's JSON answer as text: a string as is, an integer in decimal (the
// providers' APIs spell ids either way); empty when absent or of another type.
std::string text_field(const nlohmann::json& object, const char* key);

}  // namespace ballast::providers
