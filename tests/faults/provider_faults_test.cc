// The fault suite, provider part: VPSie, Contabo and a dispatch pipeline (fake APIs on
// loopback) throttling with and without Retry-After, failing in runs of 5xx, answering
// past the request timeout, and losing the answer to a create the server carried out.
// Time is a fake clock whose sleeps advance it, except where a real timeout is the fault.
// Each case asks: does the provider recover on its own, is no VM ordered twice or left
// behind, do the errors and /metrics name the provider, and is no credential in them.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "core/metrics.h"
#include "faults/fault_harness.h"
#include "faults/node_pool_rig.h"
#include "fakes/fake_clock.h"
#include "fakes/fake_providers.h"
#include "net/http_client.h"
#include "net/io_pool.h"
#include "providers/contabo_provider.h"
#include "providers/dispatch_provider.h"
#include "providers/vpsie_provider.h"

using namespace ballast;
using namespace ballast::providers;
using namespace std::chrono_literals;
using ballast::testing::FakeApiServer;
using ballast::testing::sample;
using nlohmann::json;

namespace {

// Credentials each fake accepts; none may show up in a log line or a metric.
const std::vector<std::string> kSecrets = {"vpsie-static-3e8a", "vpsie-client-secret-41c2", "vpsie-account-pw-7f0d",
                                           "contabo-client-secret-a9b3", "contabo-pw-c5e1", "dispatch-token-2d6f",
                                           "vpsie-token-1", "contabo-token-1"};

nodepool::CreateRequest order(const std::string& name) {
  nodepool::CreateRequest request;
  request.group = "general";
  request.name = name;
  request.offering = "V92";
  request.user_data = "#cloud-config\n";
  request.request_id = make_uuid();
  request.desired_size = 1;
  return request;
}

// A NodeGroup of `rig` on the fake VPSie API, with the credentials it accepts and no scale-down.
void add_vpsie_group(testing::NodePoolRig& rig, const testing::FakeVpsie& vpsie,
                     nlohmann::json scale_up = {{"podAgeSeconds", 0}}) {
  rig.add_group({{"type", "vpsie"},
                 {"vpsie", {{"apiURL", vpsie.url()}, {"datacenter", "dc-1"}, {"osIdentifier", "os-1"}}}},
                {{"clientId", "vpsie-client"},
                 {"clientSecret", "vpsie-client-secret-41c2"},
                 {"accountPassword", "vpsie-account-pw-7f0d"}},
                {{"enabled", false}}, 0, std::move(scale_up));
}

// One provider on its fake API, driven through the NodeProvider interface, with the
// provider-specific view of its breaker.
struct Subject {
  std::string type;
  std::unique_ptr<testing::FakeProviderServer> fake;
  std::unique_ptr<nodepool::NodeProvider> provider;
  std::function<CircuitBreaker::State()> breaker;
  std::string create_path;  // where a create is POSTed

  // A call that reaches the API: a list for VPSie and Contabo, a dispatch for a pipeline
  // (which has nothing to list).
  Status call() {
    if (type == "dispatch") {
      auto made = provider->create(order("general-d" + std::to_string(++dispatches_)));
      return made.ok() ? Status(Ok{}) : Status(made.error());
    }
    auto listed = provider->list("general");
    return listed.ok() ? Status(Ok{}) : Status(listed.error());
  }
  size_t requests() const { return fake->requests().size(); }

 private:
  int dispatches_ = 0;
};

struct Env {
  net::IoPool pool{1};
  std::unique_ptr<net::HttpClient> client;
  testing::FakeClock clock;
  MetricsRegistry metrics;

  Env() {
    pool.start();
    client = std::make_unique<net::HttpClient>(pool);
  }
  ~Env() {
    client.reset();
    pool.stop();
  }

  ProviderContext context(ResilienceOptions options, bool fake_time) {
    ProviderContext c;
    c.transport = http_transport(*client);
    c.clock = &clock;
    if (fake_time) c.sleep = [this](std::chrono::nanoseconds d) { clock.advance(d); };
    c.metrics = &metrics;
    options.jitter = 0;
    c.resilience = options;
    return c;
  }

  // A started fake and its provider; the first call (a login, where there is one) is made.
  Subject subject(const std::string& type, ResilienceOptions options = {}, bool fake_time = true) {
    Subject s;
    s.type = type;
    if (type == "vpsie") {
      auto fake = std::make_unique<testing::FakeVpsie>("", "vpsie-client", "vpsie-client-secret-41c2", "vpsie-account-pw-7f0d");
      fake->start();
      VpsieSettings settings;
      settings.api_url = fake->url();
      settings.datacenter = "dc-1";
      settings.os_identifier = "os-1";
      settings.client_id = "vpsie-client";
      settings.client_secret = "vpsie-client-secret-41c2";
      settings.account_password = "vpsie-account-pw-7f0d";
      auto made = VpsieProvider::make(settings, context(options, fake_time));
      REQUIRE(made.ok());
      auto* raw = made->get();
      s.breaker = [raw] { return raw->breaker_state(); };
      s.provider = std::move(*made);
      s.fake = std::move(fake);
      s.create_path = "/api/v2/vm";
    } else if (type == "contabo") {
      auto fake = std::make_unique<testing::FakeContabo>("contabo-client", "contabo-client-secret-a9b3", "api@example.com",
                                                         "contabo-pw-c5e1");
      fake->start();
      ContaboSettings settings;
      settings.api_url = fake->url();
      settings.auth_url = fake->url() + "/auth/realms/contabo/protocol/openid-connect/token";
      settings.client_id = "contabo-client";
      settings.client_secret = "contabo-client-secret-a9b3";
      settings.username = "api@example.com";
      settings.password = "contabo-pw-c5e1";
      auto made = ContaboProvider::make(settings, context(options, fake_time));
      REQUIRE(made.ok());
      auto* raw = made->get();
      s.breaker = [raw] { return raw->breaker_state(); };
      s.provider = std::move(*made);
      s.fake = std::move(fake);
      s.create_path = "/v1/compute/instances";
    } else {
      auto fake = std::make_unique<testing::FakeDispatch>("dispatch-token-2d6f");
      fake->start();
      DispatchSettings settings;
      settings.url = fake->url() + "/repos/o/r/dispatches";
      settings.token = "dispatch-token-2d6f";
      auto made = DispatchProvider::make(settings, context(options, fake_time));
      REQUIRE(made.ok());
      auto* raw = made->get();
      s.breaker = [raw] { return raw->breaker_state(); };
      s.provider = std::move(*made);
      s.fake = std::move(fake);
      s.create_path = "/repos";
    }
    REQUIRE(s.call().ok());
    return s;
  }
};

// The series counting a provider's answers of one status, as /metrics shows it.
std::string answers(const std::string& provider, const std::string& method, const std::string& status) {
  return "ballast_provider_api_requests_total{provider=\"" + provider + "\",method=\"" + method + "\",status=\"" +
         status + "\"}";
}

const char* method_of(const std::string& type) { return type == "dispatch" ? "POST" : "GET"; }

}  // namespace

TEST_CASE("a throttling provider is waited out: as long as Retry-After says, else with growing backoff", "[faults]") {
  for (const std::string type : {"vpsie", "contabo", "dispatch"}) {
    for (const std::optional<int> retry_after : {std::optional<int>(7), std::optional<int>()}) {
      INFO(type << (retry_after ? " with Retry-After" : " without Retry-After"));
      testing::LogCapture logs;
      Env env;
      Subject subject = env.subject(type);
      subject.fake->throttle_next(2, retry_after);
      const auto before = env.clock.now();
      REQUIRE(subject.call().ok());
      // Retry-After 7 twice; without it 100 ms then 200 ms (jitter off).
      CHECK(env.clock.now() - before >= (retry_after ? 14s : 300ms));
      CHECK(subject.breaker() == CircuitBreaker::State::kClosed);  // a 429 says nothing about health
      const std::string metrics = env.metrics.render();
      CHECK(sample(metrics, answers(type, method_of(type), "429")) == 2);
      testing::check_no_secret(logs.text(), metrics, kSecrets);
    }
  }
}

TEST_CASE("a run of 5xx opens the breaker, a failed half-open probe opens it again, a good answer closes it", "[faults]") {
  for (const std::string type : {"vpsie", "contabo", "dispatch"}) {
    INFO(type);
    testing::LogCapture logs;
    Env env;
    ResilienceOptions options;
    options.max_attempts = 2;
    options.breaker_threshold = 4;
    options.breaker_cooldown = 30s;
    Subject subject = env.subject(type, options);
    subject.fake->fail_next(503, 4);
    CHECK(subject.call().error().code == ErrorCode::kUnavailable);
    CHECK(subject.call().error().code == ErrorCode::kUnavailable);
    REQUIRE(subject.breaker() == CircuitBreaker::State::kOpen);

    const auto sent = subject.requests();
    const Status blocked = subject.call();
    REQUIRE_FALSE(blocked.ok());
    CHECK(blocked.error().message == "circuit open for " + type);  // names the provider
    CHECK(subject.requests() == sent);                             // failed fast, nothing sent

    env.clock.advance(31s);
    subject.fake->fail_next(503, 1);
    CHECK_FALSE(subject.call().ok());  // the half-open probe fails
    CHECK(subject.breaker() == CircuitBreaker::State::kOpen);
    CHECK(subject.requests() == sent + 1);

    env.clock.advance(31s);
    CHECK(subject.call().ok());  // recovered on its own
    CHECK(subject.breaker() == CircuitBreaker::State::kClosed);
    const std::string metrics = env.metrics.render();
    CHECK(sample(metrics, answers(type, method_of(type), "503")) == 5);
    testing::check_no_secret(logs.text(), metrics, kSecrets);
  }
}

TEST_CASE("a provider slower than the request timeout fails as unavailable and works again once it is fast", "[faults]") {
  for (const std::string type : {"vpsie", "contabo", "dispatch"}) {
    INFO(type);
    testing::LogCapture logs;
    Env env;
    ResilienceOptions options;
    options.max_attempts = 2;
    options.request_timeout = 150ms;
    Subject subject = env.subject(type, options, false);
    subject.fake->set_latency(500ms);
    const Status slow = subject.call();
    REQUIRE_FALSE(slow.ok());
    CHECK(slow.error().code == ErrorCode::kUnavailable);
    CHECK(slow.error().message.find(type) == 0);
    CHECK(slow.error().message.find("timed out") != std::string::npos);
    subject.fake->set_latency(0ms);
    CHECK(subject.call().ok());
    const std::string metrics = env.metrics.render();
    CHECK(sample(metrics, answers(type, method_of(type), "error")) == 2);
    testing::check_no_secret(logs.text(), metrics, kSecrets);
  }
}

TEST_CASE("a create whose answer was lost is found by name: the provider holds exactly one VM", "[faults]") {
  for (const std::string type : {"vpsie", "contabo"}) {
    INFO(type);
    testing::LogCapture logs;
    Env env;
    Subject subject = env.subject(type);
    subject.fake->lose_answer_next("POST", subject.create_path);
    const auto request = order("general-a1");
    auto created = subject.provider->create(request);
    REQUIRE(created.ok());
    CHECK_FALSE(created->id.empty());
    CHECK(created->name == "general-a1");
    // Asked again (the next pass, or a new leader): found, not ordered.
    REQUIRE(subject.provider->create(request).ok());
    CHECK(subject.fake->vms().size() == 1);
    CHECK(subject.fake->count_requests("POST", subject.create_path) == 1);
    CHECK_FALSE(logs.lines_with({"create answer lost", "general-a1", "\"level\":\"warn\""}).empty());
    const std::string metrics = env.metrics.render();
    CHECK(sample(metrics, answers(type, "POST", "error")) == 1);
    testing::check_no_secret(logs.text(), metrics, kSecrets);
  }
}

TEST_CASE("a VM VPSie is still building is not reported deleted before it can be, and is deleted once built", "[faults]") {
  Env env;
  Subject subject = env.subject("vpsie");
  auto& fake = static_cast<testing::FakeVpsie&>(*subject.fake);
  fake.set_hold_pending(true);
  auto created = subject.provider->create(order("general-a1"));
  REQUIRE(created.ok());
  REQUIRE(created->id.empty());  // no identifier while pending
  // What the reconciler asks when the provision timeout ends: by name, without an id.
  const nodepool::ProviderInstance never_joined{"", "general-a1", "general", "V92", "creating", std::nullopt};
  const Status early = subject.provider->remove(never_joined, 0);
  REQUIRE_FALSE(early.ok());
  CHECK(early.error().code == ErrorCode::kUnavailable);  // tried again next pass, not forgotten
  fake.release_pending();
  REQUIRE(subject.provider->remove(never_joined, 0).ok());
  CHECK(fake.vms().empty());
}

TEST_CASE("the node pool rides out a lost create answer: one VM, recorded in flight with its id", "[faults]") {
  testing::LogCapture logs;
  testing::FakeVpsie vpsie("", "vpsie-client", "vpsie-client-secret-41c2", "vpsie-account-pw-7f0d");
  vpsie.start();
  testing::NodePoolRig rig;
  add_vpsie_group(rig, vpsie);
  rig.add_pod("worker-0", "3");
  vpsie.lose_answer_next("POST", "/api/v2/vm");
  rig.start();
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        const auto in_flight = rig.in_flight();
        return in_flight.size() == 1 && !in_flight[0].value("providerId", "").empty();
      },
      10s));
  REQUIRE(rig.wait_passes(3));
  CHECK(vpsie.vms().size() == 1);
  CHECK(vpsie.count_requests("POST", "/api/v2/vm") == 1);
  CHECK(rig.in_flight().size() == 1);
  CHECK(rig.in_flight()[0]["name"] == vpsie.vms()[0].name);
  const std::string metrics = rig.metrics.render();
  CHECK(sample(metrics, answers("vpsie", "POST", "error")) == 1);
  CHECK_FALSE(logs.lines_with({"create answer lost", "providers.vpsie"}).empty());
  testing::check_no_secret(logs.text(), metrics, kSecrets);
}

TEST_CASE("the node pool keeps an order whose answer was lost and whose lookups fail, and finds its one VM later",
          "[faults]") {
  testing::LogCapture logs;
  testing::FakeVpsie vpsie("", "vpsie-client", "vpsie-client-secret-41c2", "vpsie-account-pw-7f0d");
  vpsie.start();
  testing::NodePoolRig rig;
  // No scale-up backoff: a forgotten order would be placed again at the next pass.
  add_vpsie_group(rig, vpsie, {{"podAgeSeconds", 0}, {"backoffSeconds", 0}});
  rig.add_pod("worker-0", "3");
  // The create goes through with its answer lost; the create's own lookup and the next
  // three fail (one try each, the breaker kept closed).
  vpsie.lose_answer_next("POST", "/api/v2/vm", 1, 4);
  ResilienceOptions resilience;
  resilience.max_attempts = 1;
  resilience.breaker_threshold = 100;
  resilience.rate_per_second = 1000;  // no rate limiter holding a second order back
  resilience.burst = 1000;
  rig.start(resilience);
  const bool confirmed = FakeApiServer::wait_for(
      [&] {
        const auto in_flight = rig.in_flight();
        return in_flight.size() == 1 && !in_flight[0].value("providerId", "").empty() &&
               !in_flight[0].contains("unconfirmed");
      },
      10s);
  REQUIRE(rig.wait_passes(3));
  INFO("status.inFlight: " << json(rig.in_flight()).dump());
  CHECK(vpsie.vms().size() == 1);
  CHECK(vpsie.count_requests("POST", "/api/v2/vm") == 1);
  REQUIRE(confirmed);
  REQUIRE(rig.in_flight().size() == 1);
  CHECK(rig.in_flight()[0]["name"] == vpsie.vms()[0].name);
  const std::string metrics = rig.metrics.render();
  // The create's lookup failed, then three lookups of the kept order, each after a longer wait.
  CHECK(sample(metrics, R"(ballast_controller_retries_total{controller="nodepool",write="vm"})") == 4);
  CHECK(sample(metrics, answers("vpsie", "GET", "503")) == 4);
  CHECK(logs.lines_with({"create failed with no answer", "retryInMs"}).size() == 1);
  CHECK(logs.lines_with({"cannot look up an unconfirmed order", "retryInMs"}).size() == 3);
  CHECK_FALSE(logs.lines_with({"unconfirmed order found at the provider by name"}).empty());
  testing::check_no_secret(logs.text(), metrics, kSecrets);
}
