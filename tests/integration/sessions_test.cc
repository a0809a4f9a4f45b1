#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/metrics.h"
#include "net/io_pool.h"
#include "scaler/metric_hub.h"
#include "demo/support/session_publisher.h"
#include "sources/sessions/session_registry.h"
#include "sources/sessions/session_server.h"

namespace ballast::sessions {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr const char* kToken = "s3cret-token";
constexpr const char* kKey = "sessions/active";
constexpr auto kWait = 5s;

SessionServerOptions default_options() {
  SessionServerOptions options;
  options.address = "127.0.0.1:0";
  options.tokens = {"other-token", kToken};
  return options;
}

// Polls until `condition` holds or the deadline passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string frame(double value, const std::string& service = "signaling") {
  return nlohmann::json{{"counter", "active"}, {"labels", {{"service", service}}}, {"value", value}}.dump();
}

std::string delta(double amount, const std::string& service = "signaling") {
  return nlohmann::json{{"counter", "active"}, {"labels", {{"service", service}}}, {"delta", amount}}.dump();
}

// A real server on a free loopback port, with a watch on the "active" counter of the
// signaling service.
struct Harness {
  explicit Harness(SessionServerOptions options = default_options(), RegistryOptions registry_options = {})
      : registry(hub, metrics, std::move(registry_options)) {
    pool.start();
    auto started = SessionServer::start(pool, std::move(options), registry, metrics);
    REQUIRE(started.ok());
    server = std::move(started).value();
    scaler::TriggerSpec spec;
    spec.source_key = kKey;
    spec.detail = scaler::SessionsTrigger{"active", {{"service", "signaling"}}};
    registry.watch(spec);
  }

  ~Harness() {
    server->stop();
    pool.stop();
  }

  std::unique_ptr<SessionPublisher> connect(const std::string& token = kToken) {
    auto publisher = SessionPublisher::connect("127.0.0.1", server->port(), token);
    REQUIRE(publisher.ok());
    return std::move(publisher).value();
  }

  std::optional<double> value() {
    const auto sample = hub.read(kKey, 1h);
    if (!sample.ok()) return std::nullopt;
    return sample->value;
  }

  bool value_becomes(double expected) {
    return eventually([&] { return value() == expected; });
  }

  double counter(const std::string& name, const Labels& labels) { return metrics.counter(name, "", labels).value(); }

  SteadyClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  SessionRegistry registry;
  net::IoPool pool{2};
  std::unique_ptr<SessionServer> server;
};

// Reads frames until the connection ends; returns the error that ended it.
Error receive_until_closed(SessionPublisher& publisher, int max_frames = 100) {
  for (int i = 0; i < max_frames; ++i) {
    auto received = publisher.receive(kWait);
    if (!received.ok()) return received.error();
  }
  FAIL("the connection stayed open");
  return Error{};
}

// A bare WebSocket upgrade request, to look at the HTTP answer itself. Bounded by the
// stream's timeout.
std::optional<http::response<http::string_body>> raw_upgrade(uint16_t port, const std::string& target,
                                                             const std::string& authorization) {
  asio::io_context context;
  beast::tcp_stream stream(context);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  request.set(http::field::connection, "Upgrade");
  request.set(http::field::upgrade, "websocket");
  request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  request.set(http::field::sec_websocket_version, "13");
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  http::response<http::string_body> response;
  bool done = false;

  stream.expires_after(kWait);
  stream.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                       [&](beast::error_code ec) {
                         if (ec) return;
                         http::async_write(stream, request, [&](beast::error_code write_ec, size_t) {
                           if (write_ec) return;
                           http::async_read(stream, buffer, response,
                                            [&](beast::error_code read_ec, size_t) { done = !read_ec; });
                         });
                       });
  context.run_for(kWait + 1s);
  if (!done) return std::nullopt;
  return response;
}

TEST_CASE("the hub follows publishers as they connect, publish and disconnect", "[sessions][integration]") {
  Harness h;
  CHECK(h.value() == 0.0);
  auto a = h.connect();
  auto b = h.connect();
  REQUIRE(a->send(frame(5)).ok());
  CHECK(h.value_becomes(5));
  REQUIRE(b->send(frame(3)).ok());
  REQUIRE(b->send(frame(100, "media")).ok());
  CHECK(h.value_becomes(8));
  REQUIRE(b->send(delta(-1)).ok());
  CHECK(h.value_becomes(7));

  a->close();
  CHECK(h.value_becomes(2));
  b.reset();
  CHECK(h.value_becomes(0));
  CHECK(h.metrics.gauge("ballast_sessions_connections", "").value() == 0);
}

TEST_CASE("the server re-publishes sums every second so quiet publishers never go stale",
          "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  REQUIRE(publisher->send(frame(4)).ok());
  REQUIRE(h.value_becomes(4));
  const auto first = h.hub.read(kKey, 1h)->observed_at;
  CHECK(eventually([&] { return h.hub.read(kKey, 1h)->observed_at > first; }, 3s));
}

TEST_CASE("a publisher without a token or with an unknown one is refused with 401 before the upgrade",
          "[sessions][integration]") {
  Harness h;
  const std::string token = GENERATE(std::string(""), std::string("wrong-token"), std::string("s3cret-tokenX"));
  const auto refused = SessionPublisher::connect("127.0.0.1", h.server->port(), token);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Matchers::Contains("401"));
  CHECK(h.counter("ballast_sessions_rejected_upgrades_total", {{"reason", "unauthorized"}}) == 1);
  CHECK(h.metrics.gauge("ballast_sessions_connections", "").value() == 0);
}

TEST_CASE("a refused upgrade is a plain HTTP answer without a switch of protocols", "[sessions][integration]") {
  Harness h;
  SECTION("wrong token") {
    const auto response = raw_upgrade(h.server->port(), kSessionsPath, "Bearer nope");
    REQUIRE(response);
    CHECK(response->result() == http::status::unauthorized);
    CHECK(response->count(http::field::upgrade) == 0);
    CHECK((*response)[http::field::www_authenticate] == "Bearer");
  }
  SECTION("right token with another scheme") {
    const auto response = raw_upgrade(h.server->port(), kSessionsPath, std::string("Basic ") + kToken);
    REQUIRE(response);
    CHECK(response->result() == http::status::unauthorized);
  }
  SECTION("right token, scheme in any case") {
    const auto response = raw_upgrade(h.server->port(), kSessionsPath, std::string("bEaReR ") + kToken);
    REQUIRE(response);
    CHECK(response->result() == http::status::switching_protocols);
  }
}

TEST_CASE("an upgrade with headers over 8 KiB is answered 431", "[sessions][integration]") {
  Harness h;
  const auto response = raw_upgrade(h.server->port(), kSessionsPath, "Bearer " + std::string(10'000, 'x'));
  REQUIRE(response);
  CHECK(response->result() == http::status::request_header_fields_too_large);
  CHECK(response->count(http::field::upgrade) == 0);
}

TEST_CASE("an upgrade on another path is answered 404", "[sessions][integration]") {
  Harness h;
  const auto refused = SessionPublisher::connect("127.0.0.1", h.server->port(), kToken, "/v1/other");
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Matchers::Contains("404"));
  CHECK(h.counter("ballast_sessions_rejected_upgrades_total", {{"reason", "not_found"}}) == 1);
}

TEST_CASE("an insecure server accepts publishers without a token", "[sessions][integration]") {
  auto options = default_options();
  options.tokens.clear();
  options.insecure = true;
  Harness h(options);
  auto publisher = h.connect("");
  REQUIRE(publisher->send(frame(2)).ok());
  CHECK(h.value_becomes(2));
}

TEST_CASE("a server that is not insecure refuses to start without tokens", "[sessions][integration]") {
  net::IoPool pool(1);
  SteadyClock clock;
  scaler::MetricHub hub(clock);
  MetricsRegistry metrics;
  SessionRegistry registry(hub, metrics);
  auto options = default_options();
  options.tokens.clear();
  const auto started = SessionServer::start(pool, options, registry, metrics);
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("an invalid frame gets an error frame and the connection stays usable", "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  const std::string bad = GENERATE(std::string("{not json"), std::string(R"({"counter":"active","value":-1})"));
  REQUIRE(publisher->send(bad).ok());
  const auto reply = publisher->receive(kWait);
  REQUIRE(reply.ok());
  const auto error = nlohmann::json::parse(*reply);
  REQUIRE(error.contains("error"));
  CHECK(error["error"].is_string());
  CHECK_FALSE(error["error"].get<std::string>().empty());

  REQUIRE(publisher->send(frame(6)).ok());
  CHECK(h.value_becomes(6));
  CHECK(h.counter("ballast_sessions_frames_total", {{"result", "invalid"}}) == 1);
  CHECK(h.counter("ballast_sessions_frames_total", {{"result", "ok"}}) == 1);
}

TEST_CASE("a binary frame gets an error frame", "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  REQUIRE(publisher->send_binary(frame(1)).ok());
  const auto reply = publisher->receive(kWait);
  REQUIRE(reply.ok());
  CHECK_THAT(*reply, Catch::Matchers::Contains("binary"));
  CHECK(h.value() == 0.0);
}

TEST_CASE("the 257th series of a connection gets an error frame", "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  for (int i = 0; i < 256; ++i) REQUIRE(publisher->send(frame(1, "s" + std::to_string(i))).ok());
  REQUIRE(publisher->send(frame(1)).ok());
  const auto reply = publisher->receive(kWait);
  REQUIRE(reply.ok());
  CHECK_THAT(*reply, Catch::Matchers::Contains("256 series"));
  REQUIRE(publisher->send(frame(1, "s0")).ok());
}

TEST_CASE("one token holder is capped in connections (429) and series (error frame), other tokens are not",
          "[sessions][integration]") {
  auto options = default_options();
  options.max_connections_per_token = 2;
  RegistryOptions registry_options;
  registry_options.max_series_per_token = 3;
  Harness h(options, registry_options);
  const auto series = [&h] { return h.metrics.gauge("ballast_sessions_series", "").value(); };

  auto first = h.connect();
  auto second = h.connect();
  const auto refused = SessionPublisher::connect("127.0.0.1", h.server->port(), kToken);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Matchers::Contains("429"));
  CHECK(h.counter("ballast_sessions_rejected_upgrades_total", {{"reason", "token_connection_limit"}}) == 1);
  auto other = h.connect("other-token");

  for (int i = 0; i < 3; ++i) REQUIRE(first->send(frame(1, "s" + std::to_string(i))).ok());
  REQUIRE(eventually([&] { return series() == 3; }));
  REQUIRE(second->send(frame(1, "s3")).ok());
  const auto reply = second->receive(kWait);
  REQUIRE(reply.ok());
  CHECK_THAT(*reply, Catch::Matchers::Contains("--sessions-max-series-per-token"));
  REQUIRE(other->send(frame(1, "s4")).ok());
  CHECK(eventually([&] { return series() == 4; }));

  // A closed connection gives back its place and its series.
  first->close();
  REQUIRE(eventually([&] { return series() == 1; }));
  REQUIRE(second->send(frame(1, "s3")).ok());
  CHECK(eventually([&] { return series() == 2; }));
  std::unique_ptr<SessionPublisher> third;
  CHECK(eventually([&] {
    auto connected = SessionPublisher::connect("127.0.0.1", h.server->port(), kToken);
    if (connected.ok()) third = std::move(connected).value();
    return third != nullptr;
  }));
}

TEST_CASE("ten invalid frames in a row close the connection with 1008", "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  REQUIRE(publisher->send(frame(9)).ok());
  REQUIRE(h.value_becomes(9));
  for (int i = 0; i < 10; ++i) REQUIRE(publisher->send("nope").ok());
  const auto ended = receive_until_closed(*publisher);
  CHECK_THAT(ended.message, Catch::Matchers::Contains("1008"));
  CHECK(publisher->close_code() == 1008);
  CHECK(h.value_becomes(0));
}

TEST_CASE("invalid frames close the connection only when ten come in a row", "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  for (int i = 0; i < 9; ++i) REQUIRE(publisher->send("nope").ok());
  REQUIRE(publisher->send(frame(1)).ok());
  for (int i = 0; i < 9; ++i) REQUIRE(publisher->send("nope").ok());
  for (int i = 0; i < 18; ++i) REQUIRE(publisher->receive(kWait).ok());
  REQUIRE(publisher->send(frame(2)).ok());
  CHECK(h.value_becomes(2));
  CHECK_FALSE(publisher->close_code());
}

TEST_CASE("a frame over 4 KiB closes the connection with 1009", "[sessions][integration]") {
  Harness h;
  auto publisher = h.connect();
  // The largest frame that fits is still accepted.
  std::string fits = frame(3);
  fits.insert(fits.find("\"service\""), "\"pad\":\"" + std::string(4096 - fits.size() - 9, 'x') + "\",");
  REQUIRE(fits.size() == 4096);
  REQUIRE(publisher->send(fits).ok());
  REQUIRE(h.value_becomes(3));

  REQUIRE(publisher->send(std::string(4097, ' ')).ok());
  const auto ended = receive_until_closed(*publisher);
  CHECK_THAT(ended.message, Catch::Matchers::Contains("1009"));
  CHECK(publisher->close_code() == 1009);
  CHECK(h.value_becomes(0));
}

TEST_CASE("a silent publisher's contribution vanishes after the idle timeout", "[sessions][integration]") {
  auto options = default_options();
  options.idle_timeout = 300ms;
  Harness h(options);
  auto publisher = h.connect();
  REQUIRE(publisher->send(frame(5)).ok());
  REQUIRE(h.value_becomes(5));
  CHECK(h.value_becomes(0));
  const auto ended = receive_until_closed(*publisher);
  CHECK(publisher->close_code() == 1001);
  CHECK_THAT(ended.message, Catch::Matchers::Contains("idle"));
}

TEST_CASE("pings keep a publisher alive past the idle timeout", "[sessions][integration]") {
  auto options = default_options();
  options.idle_timeout = 300ms;
  Harness h(options);
  auto publisher = h.connect();
  REQUIRE(publisher->send(frame(5)).ok());
  REQUIRE(h.value_becomes(5));
  // Three idle timeouts long, pinging well inside each.
  const auto until = std::chrono::steady_clock::now() + 900ms;
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE(publisher->ping().ok());
    std::this_thread::sleep_for(75ms);
    REQUIRE(h.value() == 5.0);
  }
  REQUIRE(publisher->send(delta(1)).ok());
  CHECK(h.value_becomes(6));
}

TEST_CASE("stop closes every publisher with 1001 and drops their contributions", "[sessions][integration]") {
  Harness h;
  auto a = h.connect();
  auto b = h.connect();
  REQUIRE(a->send(frame(1)).ok());
  REQUIRE(b->send(frame(2)).ok());
  REQUIRE(h.value_becomes(3));

  // stop() waits for the closing handshakes, so the publishers answer from this thread.
  std::thread stopper([&h] { h.server->stop(); });
  for (auto* publisher : {a.get(), b.get()}) {
    const auto ended = receive_until_closed(*publisher);
    CHECK(publisher->close_code() == 1001);
    CHECK_THAT(ended.message, Catch::Matchers::Contains("1001"));
  }
  stopper.join();
  CHECK(h.value() == 0.0);
  CHECK(h.metrics.gauge("ballast_sessions_connections", "").value() == 0);
  CHECK_FALSE(SessionPublisher::connect("127.0.0.1", h.server->port(), kToken).ok());
}

}  // namespace
}  // namespace ballast::sessions
