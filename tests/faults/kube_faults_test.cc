// The fault suite, apiserver part: the Kubernetes client, informers, the PDB guard and the
// node-pool reconciler against the fake apiserver while it drops watches mid-event,
// answers 410, sheds load with 429, fails writes with 500 and 409, answers too slowly,
// and rotates the service-account token. Every case ends with the same questions: did
// ballast recover on its own, did an error remove anything (a PDB, a node), do the logs and
// /metrics name the apiserver call that failed, and does neither carry the token.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/metrics.h"
#include "faults/fault_harness.h"
#include "faults/node_pool_rig.h"
#include "fakes/fake_apiserver.h"
#include "fakes/fake_providers.h"
#include "guard/reconciler/guard_reconciler.h"
#include "kube/controller.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/informer_factory.h"
#include "kube/kube_client.h"
#include "net/io_pool.h"
#include "policy/tier_policy.h"

using namespace std::chrono_literals;
using ballast::testing::FakeApiServer;
using ballast::testing::sample;
using nlohmann::json;

namespace {

constexpr auto kWait = 10s;
constexpr size_t kMemoryBound = 64u << 20;  // what one fault may add to the process's RSS

json deployment(const std::string& name, int replicas) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template", {{"metadata", {{"labels", {{"app", name}}}}}}}}}};
}

// The fake apiserver requiring a service-account token that ballast reads from a file,
// as in a pod: a KubeClient with metrics, and the PDB guard on demand.
class Apiserver {
 public:
  explicit Apiserver(std::chrono::milliseconds request_timeout = 15s) {
    char pattern[] = "/tmp/ballast-faults-XXXXXX";
    dir_ = ::mkdtemp(pattern);
    write_token(token);
    server.require_bearer_token(token);
    server.start();
    pool_.start();
    ballast::kube::KubeConfig config;
    config.server = server.url();
    config.token_file = dir_ + "/token";
    ballast::kube::KubeClient::Options options;
    options.request_timeout = request_timeout;
    options.metrics = &metrics;
    client = std::make_unique<ballast::kube::KubeClient>(pool_, config, options);
    events_ = std::make_unique<ballast::kube::EventRecorder>(*client, "faults");
    informers_ = std::make_unique<ballast::kube::InformerFactory>(*client);
  }
  ~Apiserver() {
    guard.reset();
    informers_.reset();
    events_.reset();
    client.reset();
    pool_.stop();
    std::filesystem::remove_all(dir_);
  }

  // Failed writes wait 10 ms, 20 ms, ... up to 500 ms unless told (production: 1 s to 5 min).
  void start_guard(ballast::kube::RetryBackoff::Options retry = {10ms, 500ms},
                   std::chrono::milliseconds debounce = 10ms) {
    ballast::kube::ControllerOptions options;
    options.debounce = debounce;
    options.interval = 300ms;
    options.retry = retry;
    guard = std::make_unique<ballast::guard::GuardReconciler>(
        ballast::kube::ControllerContext{*client, *informers_, *events_, [] { return true; }, clock_, metrics},
        std::make_shared<const ballast::policy::TierPolicy>(ballast::policy::default_policy()), options);
    guard->start();
  }
  // The Deployment "web" (3 replicas) under a started guard; true once its PDB exists.
  bool guard_web() {
    server.put(deployment("web", 3));
    start_guard();
    return FakeApiServer::wait_for([&] { return has_pdb("web-ballast"); }, kWait);
  }


  // Replaces the token file the way the kubelet rotates a projected token: a new file
  // moved into place.
  void write_token(const std::string& value) {
    std::ofstream(dir_ + "/token.new") << value << "\n";
    std::filesystem::rename(dir_ + "/token.new", dir_ + "/token");
  }

  std::optional<json> pdb(const std::string& name) const {
    return server.get("policy/v1", "poddisruptionbudgets", "shop", name);
  }
  bool has_pdb(const std::string& name) const { return pdb(name).has_value(); }
  // A PDB is stored before the guard counts its answer: wait for the count, not the object.
  bool pdb_creates_counted(double count) const {
    return FakeApiServer::wait_for(
        [&] { return sample(metrics.render(), R"(ballast_guard_actions_total{action="create_pdb",result="ok"})") == count; },
        kWait);
  }

  // The log and /metrics say which apiserver call failed, and hold no token.
  void check_reported(const ballast::testing::LogCapture& logs, const std::vector<std::string>& log_words,
                      const std::string& series) const {
    INFO(logs.text());
    CHECK_FALSE(logs.lines_with(log_words).empty());
    const std::string text = metrics.render();
    INFO(text);
    CHECK(sample(text, series) > 0);
    ballast::testing::check_no_secret(logs.text(), text, {token, "token-two-5b1f0e"});
  }

  const std::string token = "token-one-9c41d7";
  FakeApiServer server;
  ballast::MetricsRegistry metrics;
  std::unique_ptr<ballast::kube::KubeClient> client;
  std::unique_ptr<ballast::guard::GuardReconciler> guard;

 private:
  std::string dir_;
  ballast::net::IoPool pool_{1};
  std::unique_ptr<ballast::kube::EventRecorder> events_;
  std::unique_ptr<ballast::kube::InformerFactory> informers_;
  ballast::SteadyClock clock_;
};

std::set<std::string> names(const ballast::kube::Informer& informer) {
  std::set<std::string> out;
  for (const auto& object : informer.objects()) out.insert(object["metadata"]["name"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("a watch cut off in the middle of an event resumes from the last whole event", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  api.server.put(deployment("a", 1));
  ballast::kube::Informer::Options options;
  options.retry_backoff = 10ms;
  ballast::kube::Informer informer(*api.client, ballast::kube::deployments(), options, [] {});
  informer.start();
  REQUIRE(FakeApiServer::wait_for([&] { return informer.synced(); }, kWait));
  const size_t memory_before = ballast::testing::resident_bytes();
  for (int round = 0; round < 20; ++round) {
    REQUIRE(api.server.wait_for_watches(1, kWait));
    api.server.cut_watches_mid_event();
    api.server.put(deployment("d" + std::to_string(round), 1));  // this event arrives in half
    REQUIRE(FakeApiServer::wait_for([&] { return names(informer).count("d" + std::to_string(round)) == 1; }, kWait));
  }
  CHECK(names(informer).size() == 21);
  CHECK(informer.list_count() == 1);  // every cut resumed from the resourceVersion, none relisted
  CHECK(ballast::testing::resident_bytes() < memory_before + kMemoryBound);
  informer.stop();
  api.check_reported(logs, {"watch failed, resuming", "deployments"},
                     R"(ballast_kube_api_requests_total{method="GET",code="200"})");
}

TEST_CASE("a watch the informer ends itself (resync) is not counted as a failed apiserver request", "[faults]") {
  Apiserver api;
  api.server.put(deployment("a", 1));
  ballast::kube::Informer::Options options;
  options.resync = 100ms;  // each resync cancels the running watch and relists
  ballast::kube::Informer informer(*api.client, ballast::kube::deployments(), options, [] {});
  informer.start();
  REQUIRE(FakeApiServer::wait_for([&] { return informer.list_count() >= 6; }, kWait));
  informer.stop();
  const std::string metrics = api.metrics.render();
  INFO(metrics);
  CHECK(sample(metrics, R"(ballast_kube_api_requests_total{method="GET",code="200"})") >= 6);
  CHECK(sample(metrics, R"(ballast_kube_api_requests_total{method="GET",code="error"})") == -1);
}

TEST_CASE("a 410 on resume relists, and neither the gap nor a failing relist deletes a PDB", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  REQUIRE(api.guard_web());
  REQUIRE(api.server.wait_for_watches(5, kWait));

  SECTION("410 as an HTTP answer") { api.server.set_watch_expired_as_http_410(true); }
  SECTION("410 as an ERROR event in the stream") { api.server.set_watch_expired_as_http_410(false); }
  // The resume gets 410 and the relist fails (and backs off); meanwhile the guard must
  // plan from what it last knew.
  api.server.fail_next_list("/apis/apps/v1/deployments", 500);
  api.server.compact();
  api.server.drop_watches();
  api.server.put(deployment("api", 2));
  REQUIRE(FakeApiServer::wait_for([&] { return api.has_pdb("api-ballast"); }, 2 * kWait));
  CHECK(api.has_pdb("web-ballast"));
  CHECK(api.server.count_requests("DELETE", "/apis/policy/v1") == 0);
  api.check_reported(logs, {"list failed", "deployments", "HTTP 500"},
                     R"(ballast_kube_api_requests_total{method="GET",code="500"})");
}

TEST_CASE("a storm of 429s with Retry-After is waited out, and the guard still converges", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  api.start_guard();
  REQUIRE(FakeApiServer::wait_for([&] { return api.guard->passes() >= 1; }, kWait));
  const std::string pdbs = "/apis/policy/v1/namespaces/shop/poddisruptionbudgets";
  // Every write and read for a while: the first three answered 429 with Retry-After: 1.
  api.server.fail_next("", "/", 429, 3, 1);
  const auto started = std::chrono::steady_clock::now();
  api.server.put(deployment("web", 3));
  REQUIRE(FakeApiServer::wait_for([&] { return api.has_pdb("web-ballast"); }, kWait));
  // Waited as told rather than retrying at once: 3 x 1 s.
  CHECK(std::chrono::steady_clock::now() - started >= 2900ms);
  CHECK(api.server.count_requests("POST", pdbs) <= 4);
  CHECK(api.pdb_creates_counted(1));

  // Without Retry-After the call fails at once; the guard retries on its own.
  api.server.fail_next("POST", pdbs, 429, 2);
  api.server.put(deployment("api", 2));
  REQUIRE(FakeApiServer::wait_for([&] { return api.has_pdb("api-ballast"); }, kWait));
  CHECK(sample(api.metrics.render(), R"(ballast_guard_actions_total{action="create_pdb",result="error"})") == 2);
  api.check_reported(logs, {"apiserver asked to retry later", "retryAfterMs"},
                     R"(ballast_kube_api_requests_total{method="POST",code="429"})");
}

TEST_CASE("500s on PDB writes are retried and named, and never delete a PDB", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  const std::string pdbs = "/apis/policy/v1/namespaces/shop/poddisruptionbudgets";
  api.server.fail_next("POST", pdbs, 500, 3);
  REQUIRE(api.guard_web());
  CHECK(api.server.count_requests("POST", pdbs) == 4);

  // An update that fails keeps the old budget in place until one goes through.
  api.server.fail_next("PUT", pdbs + "/web-ballast", 500, 3);
  api.server.patch_merge("apps/v1", "deployments", "shop", "web", {{"spec", {{"replicas", 1}}}});
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        const auto current = api.pdb("web-ballast");
        return current && current->at("spec").contains("maxUnavailable");
      },
      kWait));
  CHECK(api.server.count_requests("DELETE", pdbs) == 0);
  CHECK(sample(api.metrics.render(), R"(ballast_guard_actions_total{action="update_pdb",result="error"})") == 3);
  api.check_reported(logs, {"PodDisruptionBudget write failed", "shop/web-ballast", "HTTP 500"},
                     R"(ballast_kube_api_requests_total{method="PUT",code="500"})");
}

TEST_CASE("a 409 on a PDB update is re-planned from the newer object, without a warning", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  REQUIRE(api.guard_web());
  api.server.fail_next("PUT", "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/web-ballast", 409, 3);
  api.server.patch_merge("apps/v1", "deployments", "shop", "web", {{"spec", {{"replicas", 1}}}});
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        const auto current = api.pdb("web-ballast");
        return current && current->at("spec").contains("maxUnavailable");
      },
      kWait));
  CHECK(sample(api.metrics.render(), R"(ballast_guard_actions_total{action="update_pdb",result="conflict"})") == 3);
  CHECK(logs.lines_with({"\"level\":\"warn\""}).empty());
  CHECK(api.server.count_requests("DELETE", "/apis/policy/v1") == 0);
  const std::string metrics = api.metrics.render();
  CHECK(sample(metrics, R"(ballast_kube_api_requests_total{method="PUT",code="409"})") == 3);
  ballast::testing::check_no_secret(logs.text(), metrics, {api.token});
}

TEST_CASE("answers slower than the client's timeout fail the call, and the guard recovers when the apiserver does",
          "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api(400ms);
  api.start_guard();
  REQUIRE(FakeApiServer::wait_for([&] { return api.guard->passes() >= 1; }, kWait));
  REQUIRE(api.server.wait_for_watches(5, kWait));
  api.server.set_latency(1200ms);
  api.server.put(deployment("web", 3));  // arrives on the open watch; the write then times out
  REQUIRE(FakeApiServer::wait_for(
      [&] {
        return sample(api.metrics.render(), R"(ballast_guard_actions_total{action="create_pdb",result="error"})") >= 1;
      },
      kWait));
  api.server.set_latency(0ms);
  REQUIRE(FakeApiServer::wait_for([&] { return api.has_pdb("web-ballast"); }, kWait));
  CHECK(api.server.list("poddisruptionbudgets", "shop").size() == 1);  // a late write and its retry made one
  // Every blocking call is bounded, so stopping takes no longer than one timed-out call.
  api.server.set_latency(1200ms);
  const auto stopping = std::chrono::steady_clock::now();
  api.guard->stop();
  CHECK(std::chrono::steady_clock::now() - stopping < 3s);
  api.check_reported(logs, {"PodDisruptionBudget write failed", "timed out"},
                     R"(ballast_kube_api_requests_total{method="POST",code="error"})");
}

TEST_CASE("a rotated service-account token is read again, and the old one is refused", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  REQUIRE(api.guard_web());
  REQUIRE(api.server.wait_for_watches(5, kWait));

  // The apiserver stops accepting the old token before the new file lands (the worst order).
  api.server.require_bearer_token("token-two-5b1f0e");
  api.server.drop_watches();
  REQUIRE(FakeApiServer::wait_for([&] { return !logs.lines_with({"watch failed", "HTTP 401"}).empty(); }, kWait));
  CHECK(api.server.unauthorized() >= 1);
  CHECK_FALSE(api.has_pdb("api-ballast"));
  api.write_token("token-two-5b1f0e");
  api.server.put(deployment("api", 2));
  // The refused watches back off (1, 2, 4 s, ...) until the next try reads the new token:
  // on a loaded machine that takes more than one kWait (seen once in ctest -j2 beside a soak).
  REQUIRE(FakeApiServer::wait_for([&] { return api.has_pdb("api-ballast"); }, 2 * kWait));
  CHECK(api.has_pdb("web-ballast"));
  // While its watches were refused the caches were stale; a write that found its object
  // already there waited for the watch instead of repeating in a loop.
  CHECK(sample(api.metrics.render(), R"(ballast_kube_api_requests_total{method="POST",code="409"})") < 10);
  api.check_reported(logs, {"watch failed, resuming", "HTTP 401"},
                     R"(ballast_kube_api_requests_total{method="GET",code="401"})");
}

TEST_CASE("a node whose taint cannot be written is not drained, and a group whose status cannot be written orders no VM",
          "[faults]") {
  ballast::testing::LogCapture logs;
  ballast::testing::NodePoolRig rig;
  ballast::testing::FakeDispatch pipeline("pipeline-token-77ad");
  pipeline.start();
  const json dispatch = {{"type", "dispatch"},
                         {"dispatch", {{"url", pipeline.url() + "/repos/o/r/dispatches"}, {"eventType", "scale"}}}};

  SECTION("node patch") {
    rig.add_node("general-a");
    rig.add_node("general-b");
    rig.add_pod("big", "3", "general-a");
    rig.add_pod("small", "100m", "general-b");
    rig.add_group(dispatch, {{"token", "pipeline-token-77ad"}},
                  {{"enabled", true}, {"utilizationThreshold", 0.5}, {"unneededSeconds", 0}, {"delayAfterAddSeconds", 0},
                   {"delayAfterFailureSeconds", 0}, {"maxGracefulTerminationSeconds", 600}},
                  1);
    rig.server.fail_next("PATCH", "/api/v1/nodes/general-b", 500, 3);
    rig.start();
    REQUIRE(FakeApiServer::wait_for([&] { return !rig.server.get("v1", "nodes", "", "general-b").has_value(); }, kWait));
    // No eviction went out before the node was tainted: the first one follows the fourth patch.
    const auto requests = rig.server.requests();
    size_t patches = 0;
    for (const auto& request : requests) {
      if (request.method == "PATCH" && request.path == "/api/v1/nodes/general-b") ++patches;
      if (request.method == "POST" && request.path.find("/eviction") != std::string::npos) {
        CHECK(patches == 4);
        break;
      }
    }
    CHECK(rig.server.get("v1", "nodes", "", "general-a").has_value());
    const std::string metrics = rig.metrics.render();
    CHECK(sample(metrics, R"(ballast_kube_api_requests_total{method="PATCH",code="500"})") == 3);
    CHECK_FALSE(logs.lines_with({"cannot taint the node for removal", "general-b", "HTTP 500"}).empty());
    ballast::testing::check_no_secret(logs.text(), metrics, {"pipeline-token-77ad"});
  }

  SECTION("NodeGroup status patch") {
    rig.add_group(dispatch, {{"token", "pipeline-token-77ad"}});
    rig.add_pod("worker-0", "3");
    rig.server.fail_next("PATCH", "/apis/ballast.dev/v1alpha1/nodegroups/general/status", 500, 3);
    rig.start();
    REQUIRE(FakeApiServer::wait_for([&] { return rig.in_flight().size() == 1; }, kWait));
    REQUIRE(rig.wait_passes(3));
    // Nothing was ordered while the request could not be recorded, one VM once it could.
    CHECK(pipeline.count_requests("POST", "/repos") == 1);
    CHECK(rig.in_flight().size() == 1);
    const std::string metrics = rig.metrics.render();
    CHECK(sample(metrics, R"(ballast_kube_api_requests_total{method="PATCH",code="500"})") == 3);
    CHECK_FALSE(logs.lines_with({"cannot write NodeGroup status", "general", "HTTP 500"}).empty());
    ballast::testing::check_no_secret(logs.text(), metrics, {"pipeline-token-77ad"});
  }
}

namespace {

// Starts the guard over "web" with every PDB create failing (HTTP 500) for `window`, and
// returns how many creates it sent in that time; the PDB must then be made once the
// apiserver accepts writes again.
size_t creates_while_failing(Apiserver& api, ballast::kube::RetryBackoff::Options retry,
                             std::chrono::milliseconds debounce, std::chrono::milliseconds window) {
  const std::string pdbs = "/apis/policy/v1/namespaces/shop/poddisruptionbudgets";
  api.server.fail_next("POST", pdbs, 500, 1'000'000);
  api.server.put(deployment("web", 3));
  api.start_guard(retry, debounce);
  REQUIRE(FakeApiServer::wait_for([&] { return api.server.count_requests("POST", pdbs) >= 1; }, kWait));
  std::this_thread::sleep_for(window);  // the fault lasts this long: nothing to wait for but time
  const size_t attempts = api.server.count_requests("POST", pdbs);
  api.server.clear_failures();
  REQUIRE(FakeApiServer::wait_for([&] { return api.has_pdb("web-ballast"); }, retry.cap + kWait));
  return attempts;
}

}  // namespace

TEST_CASE("a PDB write that keeps failing is tried again after a doubling backoff, not once a pass", "[faults]") {
  ballast::testing::LogCapture logs;
  Apiserver api;
  // 100 ms doubling: attempts at 0, 0.1, 0.3, 0.7, 1.5 and 3.1 s; once a pass (the guard's
  // 100 ms debounce) it was ~25.
  const size_t attempts = creates_while_failing(api, {100ms, 1min}, 100ms, 2500ms);
  CHECK(attempts >= 4);
  CHECK(attempts <= 6);
  CHECK(api.pdb_creates_counted(1));
  CHECK(sample(api.metrics.render(), R"(ballast_controller_retries_total{controller="guard",write="pdb"})") == attempts);
  // One warning per failed attempt, each saying when the next comes.
  CHECK(logs.lines_with({"PodDisruptionBudget write failed", "shop/web-ballast", "retryInMs"}).size() == attempts);
  api.check_reported(logs, {"PodDisruptionBudget write failed", "HTTP 500"},
                     R"(ballast_kube_api_requests_total{method="POST",code="500"})");
}

// By hand (`faults_test "[.measure]"`): a minute of failing PDB creates with the guard's
// production settings, for bench/RESULTS.md.
TEST_CASE("measure: PDB creates sent during a minute of failing writes", "[.measure]") {
  Apiserver api;
  const ballast::kube::ControllerOptions defaults = ballast::guard::default_guard_options();
  const size_t attempts = creates_while_failing(api, defaults.retry, defaults.debounce, 60s);
  WARN("PDB creates in 60 s of HTTP 500: " << attempts);
}
