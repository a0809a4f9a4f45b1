#include "sources/prom/prom_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <iomanip>
#include <optional>
#include <sstream>
#include <variant>

#include <openssl/evp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/file.h"
#include "core/log.h"
#include "net/http_client.h"
#include "net/io_pool.h"
#include "sources/prom/prom_response.h"

namespace ballast::prom {
namespace {

namespace asio = boost::asio;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::chrono::milliseconds kMinIdleAfter{5 * 60 * 1000};
constexpr size_t kErrorBodyExcerpt = 200;
// A server's Retry-After is honoured up to this long; a longer one is likely a mistake, and
// the value has gone stale (UNAVAILABLE, KEDA's fallback) long before.
constexpr std::chrono::seconds kMaxRetryAfter{300};

// A failed poll: why, and the `reason` label it counts under.
struct Failure {
  std::string reason;
  std::string message;
};

std::string base64(const std::string& text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  out.resize(static_cast<size_t>(written));
  return out;
}

std::string unix_time_now() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::ostringstream out;
  out << millis / 1000 << '.' << std::setw(3) << std::setfill('0') << millis % 1000;
  return out.str();
}

// A secret file (bearer token, password) re-read only when its modification time
// changes, so a rotated Secret is picked up without reading the file on every poll.
// Mounted Secrets are small local files; a stat per poll is the whole steady-state cost.
class SecretFile {
 public:
  explicit SecretFile(std::string path) : path_(std::move(path)) {}

  Result<std::string> read() {
    struct stat info {};
    if (::stat(path_.c_str(), &info) != 0) return io_error("cannot read " + path_);
    const int64_t stamp = int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec;
    if (!loaded_ || stamp != stamp_) {
      auto text = read_regular_file(path_);
      if (!text) return text.error();
      std::string value = std::move(*text);
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
      if (value.empty()) return io_error(path_ + " is empty");
      value_ = std::move(value);
      stamp_ = stamp;
      loaded_ = true;
    }
    return value_;
  }

 private:
  std::string path_;
  std::string value_;
  int64_t stamp_ = 0;
  bool loaded_ = false;
};

Failure classify_http(const net::HttpClientResponse& response) {
  // Prometheus answers bad queries with 400/422 and a JSON error body worth showing.
  auto parsed = parse_query_response(response.body);
  if (!parsed && parsed.error().code == ErrorCode::kInvalidArgument) {
    return {"query", "HTTP " + std::to_string(response.status) + ": " + parsed.error().message};
  }
  std::string excerpt = response.body.substr(0, kErrorBodyExcerpt);
  for (auto& c : excerpt) {
    if (std::iscntrl(static_cast<unsigned char>(c))) c = ' ';
  }
  return {"http_status", "HTTP " + std::to_string(response.status) + (excerpt.empty() ? "" : ": " + excerpt)};
}

}  // namespace

// State every poller shares with the source. `mutex` makes stop() a barrier: hub calls
// happen under it and only while !stopped, so once stop() returns nothing touches the hub.
struct PromSource::Shared {
  Shared(net::IoPool& pool, scaler::MetricHub& hub_ref, MetricsRegistry& registry)
      : hub(hub_ref),
        metrics(registry),
        client(pool),
        duration(registry.histogram("ballast_prom_query_duration_seconds",
                                    "Duration of PromQL instant queries, failed ones included", {},
                                    latency_buckets_seconds())) {}

  void count_error(const std::string& reason) {
    metrics.counter("ballast_prom_query_errors_total", "Failed PromQL polls by reason", {{"reason", reason}})
        .increment();
  }

  std::mutex mutex;
  bool stopped = false;
  scaler::MetricHub& hub;
  MetricsRegistry& metrics;
  net::HttpClient client;
  Histogram& duration;
  Logger log{"prom"};
};

// Polls one source key. Every step runs on its strand: the timer fires, the request goes
// out, the response comes back onto the strand, the next tick is scheduled from the
// start of this one. One query at a time per key, however slow the server.
class PromSource::Poller : public std::enable_shared_from_this<Poller> {
 public:
  Poller(std::shared_ptr<Shared> shared, asio::io_context& context, std::string key, std::string name,
         scaler::PrometheusTrigger trigger, std::chrono::milliseconds interval, std::optional<AuthProfile> auth,
         std::string auth_error)
      : shared_(std::move(shared)),
        strand_(asio::make_strand(context)),
        timer_(strand_),
        key_(std::move(key)),
        name_(std::move(name)),
        trigger_(std::move(trigger)),
        interval_(interval),
        idle_after_(PromSource::idle_after(interval)),
        auth_(std::move(auth)),
        auth_error_(std::move(auth_error)) {
    if (auth_ && !auth_->bearer_token_file.empty()) token_.emplace(auth_->bearer_token_file);
    if (auth_ && !auth_->password_file.empty()) password_.emplace(auth_->password_file);
  }

  void start() {
    asio::post(strand_, [self = shared_from_this()] { self->tick(); });
  }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

 private:
  void tick() {
    tick_started_ = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stopped) return;
      // The first tick answers the RPC that started the poller, whatever the hub's read
      // bookkeeping says at that instant.
      if (failing_.has_value() && !shared_->hub.wanted(key_, idle_after_)) return schedule();
    }
    auto request = build_request();
    if (!request) return finish(Failure{"config", request.error().message});
    shared_->client.request(std::move(*request), [self = shared_from_this()](Result<net::HttpClientResponse> result) {
      asio::post(self->strand_, [self, result = std::move(result)]() mutable { self->on_response(std::move(result)); });
    });
  }

  Result<net::HttpClientRequest> build_request() {
    if (!auth_error_.empty()) return invalid_argument(auth_error_);
    net::HttpClientRequest request;
    request.url = trigger_.server_address + "/api/v1/query?query=" + net::url_encode(trigger_.query) +
                  "&time=" + unix_time_now();
    for (const auto& [name, value] : trigger_.query_parameters) {
      request.url += "&" + net::url_encode(name) + "=" + net::url_encode(value);
    }
    request.headers.emplace_back("Accept", "application/json");
    // Custom headers first, then tenant and auth, so a profile's credentials win.
    for (const auto& header : trigger_.custom_headers) request.headers.push_back(header);
    if (!trigger_.tenant.empty()) request.headers.emplace_back("X-Scope-OrgID", trigger_.tenant);
    if (token_) {
      auto token = token_->read();
      if (!token) return invalid_argument("auth bearer token: " + token.error().message);
      request.headers.emplace_back("Authorization", "Bearer " + *token);
    } else if (auth_ && !auth_->username.empty()) {
      std::string password;
      if (password_) {
        auto read = password_->read();
        if (!read) return invalid_argument("auth password: " + read.error().message);
        password = *read;
      }
      request.headers.emplace_back("Authorization", "Basic " + base64(auth_->username + ":" + password));
    }
    if (auth_) {
      request.tls.ca_file = auth_->ca_file;
      request.tls.cert_file = auth_->cert_file;
      request.tls.key_file = auth_->key_file;
      request.tls.insecure_skip_verify = auth_->insecure_skip_verify;
    }
    request.tls.insecure_skip_verify = request.tls.insecure_skip_verify || trigger_.unsafe_ssl;
    request.timeout = trigger_.timeout;
    request.connect_timeout = trigger_.timeout;
    request.body_limit = kMaxResponseBytes;
    return request;
  }

  void on_response(Result<net::HttpClientResponse> result) {
    const auto elapsed = std::chrono::steady_clock::now() - tick_started_;
    shared_->duration.observe(std::chrono::duration<double>(elapsed).count());
    if (!result) {
      const auto& error = result.error();
      std::string reason = error.code == ErrorCode::kInvalidArgument ? "config"
                           : error.code == ErrorCode::kIo            ? "bad_response"
                           : elapsed >= trigger_.timeout             ? "timeout"
                                                                     : "unavailable";
      return finish(Failure{std::move(reason), error.message});
    }
    const auto& response = *result;
    if (response.status < 200 || response.status >= 300) {
      auto failure = classify_http(response);
      // A throttled or overloaded server says when to come back; asking sooner, every
      // pollInterval, would only add to its load.
      const auto retry_after = net::parse_retry_after(response);
      if (retry_after && (response.status == 429 || response.status == 503)) {
        const auto pause = std::min<std::chrono::seconds>(*retry_after, kMaxRetryAfter);
        hold_off_until_ = std::chrono::steady_clock::now() + pause;
        failure.message += " (Retry-After " + std::to_string(pause.count()) + "s honoured)";
      }
      return finish(std::move(failure));
    }
    auto parsed = parse_query_response(response.body);
    if (!parsed) {
      return finish(Failure{parsed.error().code == ErrorCode::kInvalidArgument ? "query" : "bad_response",
                            parsed.error().message});
    }
    auto value = resolve_null(*parsed, trigger_.ignore_null_values);
    if (!value) return finish(Failure{"null", value.error().message});
    finish(*value);
  }

  void finish(std::variant<double, Failure> outcome) {
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->stopped) return;
      if (const auto* value = std::get_if<double>(&outcome)) {
        shared_->hub.publish(key_, *value);
      } else {
        shared_->hub.publish_error(key_, std::get<Failure>(outcome).message);
      }
    }
    if (const auto* failure = std::get_if<Failure>(&outcome)) {
      shared_->count_error(failure->reason);
      if (failing_ != true) {
        shared_->log.warn("prometheus query failing", {{"source", name_}, {"reason", failure->reason},
                                                       {"error", failure->message}});
      }
      failing_ = true;
    } else {
      if (failing_ == true) shared_->log.info("prometheus query recovered", {{"source", name_}});
      failing_ = false;
    }
    schedule();
  }

  void schedule() {
    timer_.expires_at(std::max({tick_started_ + interval_, hold_off_until_, std::chrono::steady_clock::now()}));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->tick();
    });
  }

  std::shared_ptr<Shared> shared_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  const std::string key_;
  const std::string name_;  // the key without secret values: what logs show
  const scaler::PrometheusTrigger trigger_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds idle_after_;
  const std::optional<AuthProfile> auth_;
  const std::string auth_error_;  // set when the trigger names a profile the config lacks
  std::optional<SecretFile> token_;
  std::optional<SecretFile> password_;
  SteadyTime tick_started_{};
  SteadyTime hold_off_until_{};  // no query before this (a server's Retry-After)
  std::optional<bool> failing_;  // empty until the first poll ends
};

PromSource::PromSource(net::IoPool& pool, scaler::MetricHub& hub,
                       const std::map<std::string, AuthProfile>& auth_profiles, MetricsRegistry& metrics)
    : pool_(pool), auth_profiles_(auth_profiles), shared_(std::make_shared<Shared>(pool, hub, metrics)) {}

PromSource::~PromSource() { stop(); }

std::chrono::milliseconds PromSource::idle_after(std::chrono::milliseconds poll_interval) {
  return std::max(10 * poll_interval, kMinIdleAfter);
}

void PromSource::watch(const scaler::TriggerSpec& spec) {
  const auto* trigger = std::get_if<scaler::PrometheusTrigger>(&spec.detail);
  if (trigger == nullptr) {
    shared_->log.warn("ignoring a watch for another source", {{"source", spec.source_name}});
    return;
  }
  std::optional<AuthProfile> auth;
  std::string auth_error;
  if (!spec.auth.empty()) {
    const auto it = auth_profiles_.find(spec.auth);
    if (it == auth_profiles_.end()) {
      auth_error = "auth profile \"" + spec.auth + "\" is not defined in ballast's config (auth section)";
    } else {
      auth = it->second;
    }
  }
  std::shared_ptr<Poller> poller;
  {
    std::lock_guard lock(mutex_);
    {
      std::lock_guard shared_lock(shared_->mutex);
      if (shared_->stopped) return;
    }
    if (pollers_.count(spec.source_key) > 0) return;
    poller = std::make_shared<Poller>(shared_, pool_.context(), spec.source_key, spec.source_name, *trigger,
                                      spec.poll_interval, std::move(auth), std::move(auth_error));
    pollers_.emplace(spec.source_key, poller);
  }
  shared_->log.debug("polling prometheus query", {{"source", spec.source_name}});
  poller->start();
}

void PromSource::stop() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopped = true;
  }
  std::lock_guard lock(mutex_);
  for (auto& [key, poller] : pollers_) poller->stop();
  pollers_.clear();
}

}  // namespace ballast::prom
