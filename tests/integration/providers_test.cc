// The node providers against fake provider APIs on loopback. Time is a fake clock whose
// sleep advances it, so backoff and Retry-After cost no wall time.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

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
using nlohmann::json;
using nodepool::CreateRequest;

namespace {

struct Env {
  net::IoPool pool{1};
  std::unique_ptr<net::HttpClient> client;
  testing::FakeClock clock;
  TimePoint wall = TimePoint(std::chrono::seconds(1'800'000'000));

  Env() {
    pool.start();
    client = std::make_unique<net::HttpClient>(pool);
  }
  ~Env() {
    client.reset();
    pool.stop();
  }
  ProviderContext context(ResilienceOptions options = {}) {
    ProviderContext c;
    c.transport = http_transport(*client);
    c.clock = &clock;
    c.sleep = [this](std::chrono::nanoseconds d) { clock.advance(d); };
    c.wall_now = [this] { return wall; };
    options.jitter = 0;
    c.resilience = options;
    return c;
  }
};

CreateRequest request(const std::string& name, int desired = 1) {
  CreateRequest r;
  r.group = "general";
  r.name = name;
  r.offering = "V92";
  r.user_data = "#cloud-config\n";
  r.request_id = make_uuid();
  r.desired_size = desired;
  return r;
}

VpsieSettings vpsie_settings(const testing::FakeVpsie& fake, bool bearer) {
  VpsieSettings s;
  s.api_url = fake.url();
  s.datacenter = "dc-1";
  s.os_identifier = "os-1";
  s.account_password = "account-pw";
  if (bearer) {
    s.client_id = "cid";
    s.client_secret = "csecret";
  } else {
    s.token = "static-token";
  }
  return s;
}

ContaboSettings contabo_settings(const testing::FakeContabo& fake) {
  ContaboSettings s;
  s.api_url = fake.url();
  s.auth_url = fake.url() + "/auth/realms/contabo/protocol/openid-connect/token";
  s.client_id = "cid";
  s.client_secret = "csecret";
  s.username = "api@example.com";
  s.password = "api-pw";
  s.cancel_parked_after = std::chrono::hours(48);
  return s;
}

}  // namespace

// ---------------- dispatch ----------------

TEST_CASE("dispatch posts the contract payload with GitHub headers and records what it asked for") {
  Env env;
  testing::FakeDispatch fake("gh-token");
  fake.start();
  auto provider = DispatchProvider::make(
      {fake.url() + "/repos/o/r/dispatches", "ballast-scale", "gh-token", "", {}, "ballast-scale-down"}, env.context());
  REQUIRE(provider.ok());
  auto& dispatch = **provider;
  auto created = dispatch.create(request("general-a1", 3));
  REQUIRE(created.ok());
  CHECK(created->state == "creating");
  auto requests = fake.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].headers["authorization"] == "Bearer gh-token");
  CHECK(requests[0].headers["accept"] == "application/vnd.github+json");
  const auto body = json::parse(requests[0].body);
  CHECK(body["event_type"] == "ballast-scale");
  CHECK(body["client_payload"]["nodegroup"] == "general");
  CHECK(body["client_payload"]["desired"] == 3);
  CHECK(body["client_payload"]["remove"] == json::array());
  CHECK(body["client_payload"]["requestId"].is_string());
  CHECK(body["client_payload"]["direction"] == "up");
  CHECK(body["client_payload"].size() == 6);

  auto listed = dispatch.list("general");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(dispatch.get("general-a1").ok());

  REQUIRE(dispatch.remove(*created, 2).ok());
  const auto removal = json::parse(fake.requests().back().body);
  CHECK(removal["event_type"] == "ballast-scale-down");  // scaleDownEventType
  CHECK(removal["client_payload"]["direction"] == "down");
  CHECK(removal["client_payload"]["desired"] == 2);
  CHECK(removal["client_payload"]["remove"] == json::array({"general-a1"}));
  CHECK(dispatch.list("general")->empty());
  CHECK(dispatch.get("general-a1").error().code == ErrorCode::kNotFound);
}

TEST_CASE("dispatch retries a 5xx and honours a 429 Retry-After") {
  Env env;
  testing::FakeDispatch fake("t");
  fake.start();
  auto provider = DispatchProvider::make({fake.url() + "/repos/o/r/dispatches", "e", "t", "", {}, ""}, env.context());
  REQUIRE(provider.ok());
  fake.fail_next(502, 2);
  REQUIRE((*provider)->create(request("general-a1")).ok());
  CHECK(fake.count_requests("POST", "/repos") == 3);
  const auto before = env.clock.now();
  fake.throttle_next(1, 20);
  REQUIRE((*provider)->create(request("general-a2")).ok());
  CHECK(env.clock.now() - before >= 20s);
}

TEST_CASE("dispatch reads its token from a file and fails fast without one") {
  Env env;
  CHECK_FALSE(DispatchProvider::make({"http://127.0.0.1:1/d", "e", "", "/nonexistent/token", {}, ""}, env.context()).ok());
  CHECK_FALSE(DispatchProvider::make({"not a url", "e", "t", "", {}, ""}, env.context()).ok());
  const auto too_long = DispatchProvider::make({"http://127.0.0.1:1/d", "e", "t", "", {}, std::string(101, 'x')}, env.context());
  REQUIRE_FALSE(too_long.ok());
  CHECK(too_long.error().message.find("scaleDownEventType") != std::string::npos);
}

// ---------------- VPSie ----------------

TEST_CASE("vpsie creates with the deterministic hostname and group tag, lists, gets and deletes") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "account-pw");
  fake.start();
  auto provider = VpsieProvider::make(vpsie_settings(fake, false), env.context());
  REQUIRE(provider.ok());
  auto& vpsie = **provider;
  auto created = vpsie.create(request("general-a1"));
  REQUIRE(created.ok());
  CHECK(created->name == "general-a1");
  CHECK_FALSE(created->id.empty());
  const auto vms = fake.vms();
  REQUIRE(vms.size() == 1);
  CHECK(vms[0].tags == std::vector<std::string>{"ballast", "ballast-nodegroup-general"});
  CHECK(vms[0].user_data == "#cloud-config\n");
  const auto posted = fake.requests();
  for (const auto& r : posted) CHECK(r.headers.at("vpsie-auth") == "static-token");

  fake.put_vm({"vm-99", "other-x1", {}, "V1", "running", "", "", 0});
  auto listed = vpsie.list("general");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].state == "running");
  auto got = vpsie.get(created->id);
  REQUIRE(got.ok());
  CHECK(got->name == "general-a1");
  CHECK(vpsie.get("vm-missing").error().code == ErrorCode::kNotFound);  // error envelope with HTTP 200

  REQUIRE(vpsie.remove(*created, 0).ok());
  CHECK(fake.vms().size() == 1);
  REQUIRE(vpsie.remove(*created, 0).ok());  // already gone: still fine
}

TEST_CASE("vpsie create after a leader change finds the first VM instead of ordering a second") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "pw");
  fake.start();
  const auto req = request("general-a1");
  REQUIRE((*VpsieProvider::make(vpsie_settings(fake, false), env.context()))->create(req).ok());
  auto successor = VpsieProvider::make(vpsie_settings(fake, false), env.context());
  REQUIRE(successor.ok());
  REQUIRE((*successor)->create(req).ok());
  CHECK(fake.vms().size() == 1);
  CHECK(fake.count_requests("POST", "/api/v2/vm") == 1);
}

TEST_CASE("vpsie counts a VM still pending so a repeated create does not order twice") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "pw");
  fake.start();
  fake.set_hold_pending(true);
  auto provider = VpsieProvider::make(vpsie_settings(fake, false), env.context());
  auto first = (*provider)->create(request("general-a1"));
  REQUIRE(first.ok());
  CHECK(first->id.empty());
  CHECK(first->state == "creating");
  REQUIRE((*provider)->create(request("general-a1")).ok());
  CHECK(fake.count_requests("POST", "/api/v2/vm") == 1);
  fake.release_pending();
  auto listed = (*provider)->list("general");
  REQUIRE(listed->size() == 1);
  CHECK_FALSE((*listed)[0].id.empty());
}

TEST_CASE("vpsie removes a VM whose identifier it never learnt by hostname, and refuses while it is pending") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "account-pw");
  fake.start();
  fake.set_hold_pending(true);
  auto provider = VpsieProvider::make(vpsie_settings(fake, false), env.context());
  auto& vpsie = **provider;
  REQUIRE(vpsie.create(request("general-a1")).ok());
  nodepool::ProviderInstance unknown_id;  // what a successor leader knows: the name it recorded
  unknown_id.name = "general-a1";
  unknown_id.group = "general";

  const auto pending = vpsie.remove(unknown_id, 0);
  REQUIRE_FALSE(pending.ok());
  CHECK(pending.error().code == ErrorCode::kUnavailable);
  CHECK(pending.error().message.find("general-a1 is still pending") != std::string::npos);
  fake.release_pending();
  REQUIRE(vpsie.remove(unknown_id, 0).ok());
  CHECK(fake.vms().empty());
  CHECK(fake.count_requests("DELETE", "/api/v2/vm") == 1);
  REQUIRE(vpsie.remove(unknown_id, 0).ok());  // gone: nothing more to delete
  CHECK(fake.count_requests("DELETE", "/api/v2/vm") == 1);
}

TEST_CASE("vpsie logs in with client credentials and logs in again once on 401") {
  Env env;
  testing::FakeVpsie fake("", "cid", "csecret", "pw");
  fake.set_wall_clock([&env] { return env.wall; });
  fake.start();
  auto provider = VpsieProvider::make(vpsie_settings(fake, true), env.context());
  REQUIRE((*provider)->list("general").ok());
  CHECK(fake.logins() == 1);
  REQUIRE((*provider)->list("general").ok());
  CHECK(fake.logins() == 1);  // token reused
  fake.revoke_tokens();
  REQUIRE((*provider)->list("general").ok());
  CHECK(fake.logins() == 2);
  CHECK(fake.requests().back().headers.at("authorization") == "Bearer vpsie-token-2");
}

TEST_CASE("vpsie refreshes a bearer token before it expires") {
  Env env;
  testing::FakeVpsie fake("", "cid", "csecret", "pw");
  fake.start();
  fake.set_token_lifetime(600s);
  fake.set_wall_clock([&env] { return env.wall; });
  auto provider = VpsieProvider::make(vpsie_settings(fake, true), env.context());
  REQUIRE((*provider)->list("general").ok());
  env.wall += 301s;  // within 5 minutes of expiry
  REQUIRE((*provider)->list("general").ok());
  CHECK(fake.logins() == 2);
}

TEST_CASE("vpsie opens its breaker after repeated 5xx and fails fast") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "pw");
  fake.start();
  ResilienceOptions options;
  options.max_attempts = 2;
  options.breaker_threshold = 4;
  auto provider = VpsieProvider::make(vpsie_settings(fake, false), env.context(options));
  fake.fail_next(503, 100);
  CHECK((*provider)->list("general").error().code == ErrorCode::kUnavailable);
  CHECK((*provider)->list("general").error().code == ErrorCode::kUnavailable);
  CHECK((*provider)->breaker_state() == CircuitBreaker::State::kOpen);
  const auto sent = fake.requests().size();
  auto blocked = (*provider)->list("general");
  CHECK(blocked.error().message == "circuit open for vpsie");
  CHECK(fake.requests().size() == sent);
  fake.fail_next(503, 0);
  env.clock.advance(31s);
  CHECK((*provider)->list("general").ok());
  CHECK((*provider)->breaker_state() == CircuitBreaker::State::kClosed);
}

TEST_CASE("vpsie rides out a 429 and then succeeds") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "pw");
  fake.start();
  auto provider = VpsieProvider::make(vpsie_settings(fake, false), env.context());
  fake.throttle_next(2, 5);
  const auto before = env.clock.now();
  REQUIRE((*provider)->list("general").ok());
  CHECK(env.clock.now() - before >= 10s);
}

TEST_CASE("vpsie rejects names outside the group prefix") {
  Env env;
  testing::FakeVpsie fake("static-token", "", "", "pw");
  fake.start();
  auto provider = VpsieProvider::make(vpsie_settings(fake, false), env.context());
  CHECK((*provider)->create(request("elsewhere-a1")).error().code == ErrorCode::kInvalidArgument);
}

// ---------------- Contabo ----------------

TEST_CASE("contabo orders with displayName and a UUID x-request-id on every call, lists and gets") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  REQUIRE(provider.ok());
  auto& contabo = **provider;
  const auto req = request("general-a1");
  auto created = contabo.create(req);
  REQUIRE(created.ok());
  CHECK(created->name == "general-a1");
  CHECK(created->state == "creating");
  const auto vms = fake.vms();
  REQUIRE(vms.size() == 1);
  CHECK(vms[0].name == "general-a1");
  for (const auto& r : fake.requests()) {
    if (r.path().rfind("/v1/", 0) != 0) continue;
    CHECK(r.headers.count("x-request-id") == 1);
    CHECK(r.headers.at("authorization") == "Bearer contabo-token-1");
  }
  CHECK(fake.requests().back().headers.at("x-request-id") == req.request_id);  // the order carries the request id

  auto listed = contabo.list("general");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  auto got = contabo.get(created->id);
  REQUIRE(got.ok());
  CHECK(got->state == "running");
  CHECK(contabo.get("424242").error().code == ErrorCode::kNotFound);
}

TEST_CASE("contabo create after a leader change finds the first instance") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  const auto req = request("general-a1");
  REQUIRE((*ContaboProvider::make(contabo_settings(fake), env.context()))->create(req).ok());
  REQUIRE((*ContaboProvider::make(contabo_settings(fake), env.context()))->create(req).ok());
  CHECK(fake.vms().size() == 1);
  CHECK(fake.count_requests("POST", "/v1/compute/instances") == 1);
}

TEST_CASE("contabo parks on remove, reuses the parked instance on the next scale-up, cancels after idle") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  auto& contabo = **provider;
  auto first = contabo.create(request("general-a1"));
  REQUIRE(first.ok());
  REQUIRE(contabo.list("general").ok());  // provisioning → running

  REQUIRE(contabo.remove(*first, 0).ok());
  auto vms = fake.vms();
  REQUIRE(vms.size() == 1);
  CHECK(vms[0].state == "stopped");
  CHECK(vms[0].name == ContaboProvider::parked_name("general", env.wall));
  CHECK(contabo.list("general")->empty());
  CHECK(contabo.get(first->id)->state == "stopped");
  REQUIRE(contabo.remove(*first, 0).ok());  // repeated: still parked, no second stop

  auto second = contabo.create(request("general-b2"));
  REQUIRE(second.ok());
  CHECK(second->id == first->id);
  vms = fake.vms();
  REQUIRE(vms.size() == 1);
  CHECK(vms[0].name == "general-b2");
  CHECK(vms[0].reinstalls == 1);
  CHECK(fake.count_requests("POST", "/v1/compute/instances") == 1 + 1);  // one order, one stop action

  REQUIRE(contabo.remove(*second, 0).ok());
  auto none = contabo.cancel_idle_parked(env.wall + 47h);
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto cancelled = contabo.cancel_idle_parked(env.wall + 48h);
  REQUIRE(cancelled.ok());
  CHECK(*cancelled == std::vector<std::string>{first->id});
  CHECK_FALSE(fake.vms()[0].cancel_date.empty());

  // A cancelled parked instance is not reused: a new one is ordered.
  auto third = contabo.create(request("general-c3"));
  REQUIRE(third.ok());
  CHECK(third->id != first->id);
  CHECK(fake.vms().size() == 2);
}

TEST_CASE("contabo parks an instance whose id it never learnt by its displayName") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  auto& contabo = **provider;
  REQUIRE(contabo.create(request("general-a1")).ok());
  nodepool::ProviderInstance unknown_id;
  unknown_id.name = "general-a1";
  unknown_id.group = "general";
  REQUIRE(contabo.remove(unknown_id, 0).ok());
  const auto vms = fake.vms();
  REQUIRE(vms.size() == 1);
  CHECK(vms[0].state == "stopped");
  CHECK(vms[0].name == ContaboProvider::parked_name("general", env.wall));
}

TEST_CASE("contabo reuses only a parked instance of the same product") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  fake.put_vm({"555", ContaboProvider::parked_name("general", env.wall), {}, "V94", "stopped", "", "", 0});
  auto created = (*provider)->create(request("general-a1"));  // asks for V92
  REQUIRE(created.ok());
  CHECK(created->id != "555");
  CHECK(fake.vms().size() == 2);
}

TEST_CASE("contabo gets a new token when the old one is rejected, and retries 5xx") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  REQUIRE((*provider)->list("general").ok());
  fake.revoke_tokens();
  REQUIRE((*provider)->list("general").ok());
  CHECK(fake.tokens_issued() == 2);
  fake.fail_next(500, 2);
  REQUIRE((*provider)->list("general").ok());
}

TEST_CASE("contabo pages through a long instance list") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.page_size_cap = 2;
  fake.start();
  for (int i = 0; i < 5; ++i) fake.put_vm({"", "general-n" + std::to_string(i), {}, "V92", "running", "", "", 0});
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  auto listed = (*provider)->list("general");
  REQUIRE(listed.ok());
  CHECK(listed->size() == 5);
}

TEST_CASE("a VM that never becomes running stays creating") {
  Env env;
  testing::FakeContabo fake("cid", "csecret", "api@example.com", "api-pw");
  fake.start();
  fake.set_never_running(true);
  auto provider = ContaboProvider::make(contabo_settings(fake), env.context());
  auto created = (*provider)->create(request("general-a1"));
  REQUIRE(created.ok());
  CHECK((*provider)->get(created->id)->state == "creating");
  CHECK((*provider)->get(created->id)->state == "creating");
}
