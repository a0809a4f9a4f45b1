#include "providers/provider_http.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <thread>

#include "core/file.h"

namespace ballast::providers {
namespace {

using std::chrono::duration_cast;
using std::chrono::nanoseconds;

nanoseconds to_nanos(double seconds) {
  return duration_cast<nanoseconds>(std::chrono::duration<double>(seconds));
}

}  // namespace

Result<std::string> api_base_url(std::string url, const std::string& setting) {
  if (auto parsed = net::parse_url(url); !parsed.ok()) return invalid_argument(setting + ": " + parsed.error().message);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

Transport http_transport(net::HttpClient& client) {
  return [&client](const net::HttpClientRequest& request) { return client.request_sync(request); };
}

// ---- RateLimiter

RateLimiter::RateLimiter(const Clock& clock, double rate_per_second, double burst)
    : clock_(clock),
      rate_(std::max(rate_per_second, 1e-6)),
      burst_(std::max(burst, 1.0)),
      tokens_(std::max(burst, 1.0)),
      updated_(clock.now()) {}

void RateLimiter::refill(Clock::time_point now) {
  if (now <= updated_) return;
  const double elapsed = std::chrono::duration<double>(now - updated_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
  updated_ = now;
}

nanoseconds RateLimiter::reserve() {
  std::lock_guard lock(mutex_);
  const auto now = clock_.now();
  refill(now);
  tokens_ -= 1;
  nanoseconds wait{0};
  if (tokens_ < 0) wait = to_nanos(-tokens_ / rate_);
  if (paused_until_ > now) wait = std::max(wait, duration_cast<nanoseconds>(paused_until_ - now));
  return wait;
}

void RateLimiter::pause_until(Clock::time_point until) {
  std::lock_guard lock(mutex_);
  paused_until_ = std::max(paused_until_, until);
}

// ---- CircuitBreaker

CircuitBreaker::CircuitBreaker(const Clock& clock, int threshold, nanoseconds cooldown)
    : clock_(clock), threshold_(std::max(threshold, 1)), cooldown_(cooldown) {}

bool CircuitBreaker::allow() {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case State::kClosed:
      return true;
    case State::kOpen:
      if (clock_.now() - opened_at_ < cooldown_) return false;
      state_ = State::kHalfOpen;
      probe_in_flight_ = true;
      return true;
    case State::kHalfOpen:
      if (probe_in_flight_) return false;
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success() {
  std::lock_guard lock(mutex_);
  state_ = State::kClosed;
  failures_ = 0;
  probe_in_flight_ = false;
}

void CircuitBreaker::record_failure() {
  std::lock_guard lock(mutex_);
  ++failures_;
  probe_in_flight_ = false;
  if (state_ == State::kHalfOpen || (state_ == State::kClosed && failures_ >= threshold_)) {
    state_ = State::kOpen;
    opened_at_ = clock_.now();
  }
}

void CircuitBreaker::release() {
  std::lock_guard lock(mutex_);
  probe_in_flight_ = false;
}

CircuitBreaker::State CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

// ---- ProviderHttp

ProviderHttp::ProviderHttp(std::string provider, const ProviderContext& context)
    : provider_(std::move(provider)),
      transport_(context.transport),
      metrics_(context.metrics),
      clock_(*context.clock),
      sleep_(context.sleep),
      options_(context.resilience),
      limiter_(*context.clock, context.resilience.rate_per_second, context.resilience.burst),
      breaker_(*context.clock, context.resilience.breaker_threshold, context.resilience.breaker_cooldown),
      random_(std::random_device{}()) {}

nanoseconds ProviderHttp::jittered(nanoseconds backoff) {
  if (options_.jitter <= 0) return backoff;
  std::lock_guard lock(random_mutex_);
  std::uniform_real_distribution<double> spread(-options_.jitter, options_.jitter);
  const double factor = 1.0 + spread(random_);
  return duration_cast<nanoseconds>(backoff * std::max(factor, 0.0));
}

void ProviderHttp::sleep(nanoseconds duration) {
  if (duration <= nanoseconds{0}) return;
  if (sleep_) {
    sleep_(duration);
  } else {
    std::this_thread::sleep_for(duration);
  }
}

Result<net::HttpClientResponse> ProviderHttp::exchange(const net::HttpClientRequest& request) {
  if (metrics_ == nullptr) return transport_(request);
  const auto started = clock_.now();
  auto result = transport_(request);
  const double seconds = std::chrono::duration<double>(clock_.now() - started).count();
  const std::string status = result.ok() ? std::to_string(result->status) : "error";
  metrics_->counter("ballast_provider_api_requests_total", "HTTP exchanges with node providers' APIs",
                    {{"provider", provider_}, {"method", request.method}, {"status", status}})
      .increment();
  metrics_->histogram("ballast_provider_api_request_duration_seconds", "Latency of node providers' APIs",
                      {{"provider", provider_}, {"method", request.method}}, latency_buckets_seconds())
      .observe(seconds);
  return result;
}

Result<net::HttpClientResponse> ProviderHttp::send(net::HttpClientRequest request) {
  request.timeout = options_.request_timeout;
  request.connect_timeout = options_.connect_timeout;
  const auto start = clock_.now();
  const auto budget_left = [&](nanoseconds wait) { return clock_.now() + wait - start <= options_.max_total; };
  nanoseconds backoff = options_.initial_backoff;
  const auto next_backoff = [&] {
    const auto current = backoff;
    backoff = std::min<nanoseconds>(duration_cast<nanoseconds>(backoff * options_.backoff_multiplier),
                                    options_.max_backoff);
    return current;
  };
  Error last{ErrorCode::kUnavailable, provider_ + ": no attempt made"};
  for (int attempt = 1;; ++attempt) {
    if (!breaker_.allow()) return unavailable("circuit open for " + provider_);
    const auto wait = limiter_.reserve();
    if (wait > nanoseconds{0}) {
      if (!budget_left(wait)) {
        breaker_.release();
        if (last.code == ErrorCode::kTooManyRequests) return last;
        return Error{ErrorCode::kTooManyRequests, provider_ + ": rate limited past the call's time budget"};
      }
      sleep(wait);
    }
    auto result = exchange(request);
    bool throttled = false;
    if (!result.ok()) {
      if (result.error().code != ErrorCode::kUnavailable) {
        // A bad URL or TLS file is our fault, a malformed answer the server's; neither is
        // worth a retry.
        if (result.error().code == ErrorCode::kIo) {
          breaker_.record_failure();
        } else {
          breaker_.release();
        }
        return result.error();
      }
      breaker_.record_failure();
      last = unavailable(provider_ + " " + request.method + " failed: " + result.error().message);
    } else if (result->status == 429) {
      breaker_.release();
      throttled = true;
      last = status_error(provider_, request.method, *result);
      const auto retry_after = parse_retry_after(*result);
      const nanoseconds pause =
          retry_after ? std::min<nanoseconds>(*retry_after, options_.max_retry_after) : jittered(next_backoff());
      limiter_.pause_until(clock_.now() + pause);
    } else if (result->status >= 500) {
      breaker_.record_failure();
      last = status_error(provider_, request.method, *result);
    } else {
      breaker_.record_success();
      return result;
    }
    if (attempt >= options_.max_attempts) {
      last.message += " (gave up after " + std::to_string(attempt) + " attempts)";
      return last;
    }
    if (!throttled) {
      const auto delay = jittered(next_backoff());
      if (!budget_left(delay)) {
        last.message += " (out of time after " + std::to_string(attempt) + " attempts)";
        return last;
      }
      sleep(delay);
    }
  }
}

// ---- helpers

std::optional<std::chrono::seconds> parse_retry_after(const net::HttpClientResponse& response) {
  const auto it = response.headers.find("retry-after");
  if (it == response.headers.end()) return std::nullopt;
  std::string_view text = it->second;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc{} || end != text.data() + text.size() || seconds < 0) return std::nullopt;
  // Callers compare it in nanoseconds: 2^63 ns is 292 years, so a server's larger number
  // would overflow; no wait longer than a day is meant.
  constexpr long long kMaxSeconds = 24 * 3600;
  return std::chrono::seconds(std::min(seconds, kMaxSeconds));
}

Error status_error(const std::string& provider, std::string_view what, const net::HttpClientResponse& response) {
  ErrorCode code = ErrorCode::kInternal;
  const int s = response.status;
  if (s == 400 || s == 422 || s == 401 || s == 403) code = ErrorCode::kInvalidArgument;
  if (s == 404) code = ErrorCode::kNotFound;
  if (s == 409) code = ErrorCode::kAlreadyExists;
  if (s == 429) code = ErrorCode::kTooManyRequests;
  if (s >= 500) code = ErrorCode::kUnavailable;
  std::string body = response.body.substr(0, 200);
  for (auto& c : body) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::string message = provider + " " + std::string(what) + ": HTTP " + std::to_string(s);
  if (s == 401 || s == 403) message += " (credentials rejected)";
  if (!body.empty()) message += ": " + body;
  return {code, std::move(message)};
}

Result<std::string> resolve_secret(const std::string& value, const std::string& file, std::string_view what) {
  if (!value.empty()) return value;
  if (file.empty()) return invalid_argument(std::string(what) + ": neither a value nor a file given");
  auto read = read_regular_file(file);
  if (!read) return invalid_argument(std::string(what) + ": " + read.error().message);
  std::string text = std::move(*read);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t first = 0;
  while (first < text.size() && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
  text.erase(0, first);
  if (text.empty()) return invalid_argument(std::string(what) + ": " + file + " is empty");
  return text;
}

Result<std::string> TokenCache::get(bool force) {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  if (!force && token_ && now + refresh_before_ < token_->expires) return token_->value;
  auto fetched = fetch_(now);
  if (!fetched.ok()) return fetched.error();
  token_ = std::move(*fetched);
  return token_->value;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out += '&';
    out += net::url_encode(key) + "=" + net::url_encode(value);
  }
  return out;
}

std::string text_field(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

}  // namespace ballast::providers
