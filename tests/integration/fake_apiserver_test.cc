// The fake apiserver over real HTTP on loopback, read the way a Kubernetes client reads
// it: Status errors, resourceVersion conflicts, list pagination, watch streams with
// bookmarks and 410, evictions against PodDisruptionBudgets, fault injection.
#include "fakes/fake_apiserver.h"

#include <catch2/catch.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

using namespace std::chrono_literals;
using ballast::testing::FakeApiServer;
using ballast::testing::FakeApiServerOptions;
using ballast::testing::make_node;
using ballast::testing::make_pdb;
using ballast::testing::make_pod;
using json = nlohmann::json;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Reply {
  int status = 0;
  json body;
};

// One request per connection, synchronous: the smallest client that speaks HTTP/1.1.
Reply call(uint16_t port, http::verb verb, const std::string& target, const json& body = nullptr,
           const std::string& content_type = "application/json") {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::accept, "application/json");
  if (!body.is_null()) {
    req.set(http::field::content_type, content_type);
    req.body() = body.dump();
  }
  req.keep_alive(false);
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_both, ec);
  Reply reply;
  reply.status = res.result_int();
  reply.body = res.body().empty() ? json() : json::parse(res.body(), nullptr, false);
  return reply;
}

Reply get(uint16_t port, const std::string& target) { return call(port, http::verb::get, target); }
Reply post(uint16_t port, const std::string& target, const json& body) {
  return call(port, http::verb::post, target, body);
}
Reply put(uint16_t port, const std::string& target, const json& body) {
  return call(port, http::verb::put, target, body);
}
Reply merge_patch(uint16_t port, const std::string& target, const json& body) {
  return call(port, http::verb::patch, target, body, "application/merge-patch+json");
}
Reply json_patch(uint16_t port, const std::string& target, const json& body) {
  return call(port, http::verb::patch, target, body, "application/json-patch+json");
}
Reply del(uint16_t port, const std::string& target) { return call(port, http::verb::delete_, target); }

// A watch stream read on its own thread, line by line.
class WatchStream {
 public:
  WatchStream(uint16_t port, const std::string& target) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(socket_, req);
    reader_ = std::thread([this] { read(); });
  }
  ~WatchStream() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    reader_.join();
  }

  // The next event, or nullopt if none arrives in `timeout` or the stream ended.
  std::optional<json> next(std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return !events_.empty() || finished_; });
    if (events_.empty()) return std::nullopt;
    json event = std::move(events_.front());
    events_.pop_front();
    return event;
  }
  // The next event that is not a BOOKMARK.
  std::optional<json> next_change(std::chrono::milliseconds timeout = 3s) {
    while (auto event = next(timeout)) {
      if ((*event)["type"] != "BOOKMARK") return event;
    }
    return std::nullopt;
  }
  // Waits for the stream to end; true if it ended with the terminating chunk.
  bool wait_end(bool& clean, std::chrono::milliseconds timeout = 3s) {
    std::unique_lock lock(mu_);
    const bool ended = cv_.wait_for(lock, timeout, [&] { return finished_; });
    clean = clean_;
    return ended;
  }
  int status() {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 3s, [&] { return status_ != 0 || finished_; });
    return status_;
  }
  json error_body() {
    bool clean = false;
    wait_end(clean);
    std::lock_guard lock(mu_);
    return json::parse(pending_, nullptr, false);
  }

 private:
  void read() {
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    beast::error_code ec;
    http::read_header(socket_, buffer, parser, ec);
    {
      std::lock_guard lock(mu_);
      status_ = ec ? -1 : parser.get().result_int();
    }
    cv_.notify_all();
    char data[8192];
    while (!ec && !parser.is_done()) {
      parser.get().body().data = data;
      parser.get().body().size = sizeof data;
      http::read_some(socket_, buffer, parser, ec);
      if (ec == http::error::need_buffer) ec = {};
      const size_t n = sizeof data - parser.get().body().size;
      std::lock_guard lock(mu_);
      pending_.append(data, n);
      if (status_ != 200) continue;
      size_t newline;
      while ((newline = pending_.find('\n')) != std::string::npos) {
        events_.push_back(json::parse(pending_.substr(0, newline)));
        pending_.erase(0, newline + 1);
      }
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    clean_ = !ec && parser.is_done();
    finished_ = true;
    cv_.notify_all();
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<json> events_;
  std::string pending_;
  int status_ = 0;
  bool finished_ = false;
  bool clean_ = false;
};

json configmap(const std::string& name, const json& data) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
}

std::string rv_of(const json& object) { return object["metadata"]["resourceVersion"].get<std::string>(); }

std::vector<std::string> names(const json& list) {
  std::vector<std::string> out;
  for (const auto& item : list["items"]) out.push_back(item["metadata"]["name"]);
  return out;
}

struct Server {
  Server() : Server(FakeApiServerOptions{}) {}
  explicit Server(FakeApiServerOptions options) : api(options) {
    api.start();
    port = api.port();
  }
  FakeApiServer api;
  uint16_t port = 0;
};

constexpr const char* kConfigMaps = "/api/v1/namespaces/default/configmaps";
constexpr const char* kPods = "/api/v1/namespaces/default/pods";

}  // namespace

TEST_CASE("objects are created, read, replaced with optimistic concurrency and deleted over HTTP") {
  Server s;
  const auto created = post(s.port, kConfigMaps, configmap("settings", {{"a", "1"}}));
  REQUIRE(created.status == 201);
  CHECK(created.body["metadata"]["namespace"] == "default");
  CHECK(!created.body["metadata"]["uid"].get<std::string>().empty());
  CHECK(created.body["metadata"].contains("creationTimestamp"));
  CHECK(created.body["metadata"]["generation"] == 1);
  CHECK(rv_of(created.body) == s.api.resource_version());

  const auto again = post(s.port, kConfigMaps, configmap("settings", {{"a", "2"}}));
  CHECK(again.status == 409);
  CHECK(again.body["kind"] == "Status");
  CHECK(again.body["reason"] == "AlreadyExists");
  CHECK(again.body["code"] == 409);

  const auto got = get(s.port, std::string(kConfigMaps) + "/settings");
  REQUIRE(got.status == 200);
  CHECK(got.body["data"]["a"] == "1");
  CHECK(got.body["kind"] == "ConfigMap");
  CHECK(got.body["apiVersion"] == "v1");

  json stale = got.body;
  stale["data"]["a"] = "2";
  json fresh = got.body;
  fresh["data"]["a"] = "3";
  const auto first = put(s.port, std::string(kConfigMaps) + "/settings", fresh);
  REQUIRE(first.status == 200);
  CHECK(std::stoull(rv_of(first.body)) > std::stoull(rv_of(got.body)));
  CHECK(first.body["metadata"]["generation"] == 2);
  const auto second = put(s.port, std::string(kConfigMaps) + "/settings", stale);
  CHECK(second.status == 409);
  CHECK(second.body["reason"] == "Conflict");
  CHECK(second.body["details"]["name"] == "settings");

  // A write that changes nothing keeps the resourceVersion.
  const auto noop = put(s.port, std::string(kConfigMaps) + "/settings", first.body);
  CHECK(noop.status == 200);
  CHECK(rv_of(noop.body) == rv_of(first.body));

  const auto missing = put(s.port, std::string(kConfigMaps) + "/nothing", configmap("nothing", json::object()));
  CHECK(missing.status == 404);
  CHECK(missing.body["reason"] == "NotFound");
  const auto mismatched = put(s.port, std::string(kConfigMaps) + "/settings", configmap("other", json::object()));
  CHECK(mismatched.status == 400);

  const auto deleted = del(s.port, std::string(kConfigMaps) + "/settings");
  CHECK(deleted.status == 200);
  CHECK(deleted.body["metadata"]["name"] == "settings");
  const auto gone = get(s.port, std::string(kConfigMaps) + "/settings");
  CHECK(gone.status == 404);
  CHECK(gone.body["reason"] == "NotFound");
  CHECK(gone.body["message"] == "configmaps \"settings\" not found");
  CHECK(del(s.port, std::string(kConfigMaps) + "/settings").status == 404);
}

TEST_CASE("generateName, dryRun and cluster-scoped paths follow the real API") {
  Server s;
  json generated = configmap("", {{"k", "v"}});
  generated["metadata"] = {{"generateName", "job-"}};
  const auto created = post(s.port, kConfigMaps, generated);
  REQUIRE(created.status == 201);
  const std::string name = created.body["metadata"]["name"];
  CHECK(name.rfind("job-", 0) == 0);
  CHECK(name.size() == 9);

  const auto dry = post(s.port, std::string(kConfigMaps) + "?dryRun=All", configmap("dry", json::object()));
  CHECK(dry.status == 201);
  CHECK(get(s.port, std::string(kConfigMaps) + "/dry").status == 404);

  json nameless = configmap("", json::object());
  CHECK(post(s.port, kConfigMaps, nameless).status == 422);

  const auto node = post(s.port, "/api/v1/nodes", make_node("n1"));
  REQUIRE(node.status == 201);
  CHECK(!node.body["metadata"].contains("namespace"));
  CHECK(get(s.port, "/api/v1/nodes/n1").status == 200);
  CHECK(get(s.port, "/api/v1/namespaces/default/nodes/n1").status == 404);

  const json pc = {{"apiVersion", "scheduling.k8s.io/v1"},
                   {"kind", "PriorityClass"},
                   {"metadata", {{"name", "tier-critical"}}},
                   {"value", 100000}};
  CHECK(post(s.port, "/apis/scheduling.k8s.io/v1/priorityclasses", pc).status == 201);
  CHECK(get(s.port, "/apis/scheduling.k8s.io/v1/priorityclasses/tier-critical").body["value"] == 100000);
  CHECK(get(s.port, "/apis/scheduling.k8s.io/v1beta1/priorityclasses").status == 404);
  CHECK(get(s.port, "/apis/example.com/v1/widgets").status == 404);
}

TEST_CASE("merge patches and JSON patches change objects, with resourceVersion preconditions") {
  Server s;
  REQUIRE(post(s.port, kConfigMaps, configmap("cfg", {{"a", "1"}, {"b", "2"}})).status == 201);
  const std::string target = std::string(kConfigMaps) + "/cfg";

  const auto merged = merge_patch(s.port, target, {{"data", {{"a", "10"}, {"b", nullptr}, {"c", "3"}}}});
  REQUIRE(merged.status == 200);
  CHECK(merged.body["data"] == json{{"a", "10"}, {"c", "3"}});

  const auto patched = json_patch(
      s.port, target,
      json::array({{{"op", "test"}, {"path", "/data/a"}, {"value", "10"}}, {{"op", "replace"}, {"path", "/data/a"}, {"value", "11"}},
                   {{"op", "add"}, {"path", "/metadata/labels"}, {"value", {{"team", "infra"}}}}}));
  REQUIRE(patched.status == 200);
  CHECK(patched.body["data"]["a"] == "11");
  CHECK(patched.body["metadata"]["labels"]["team"] == "infra");

  const auto failed_test =
      json_patch(s.port, target, json::array({{{"op", "test"}, {"path", "/data/a"}, {"value", "nope"}}}));
  CHECK(failed_test.status == 422);

  const auto stale = merge_patch(s.port, target, {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"a", "x"}}}});
  CHECK(stale.status == 409);
  CHECK(stale.body["reason"] == "Conflict");

  const auto strategic =
      call(s.port, http::verb::patch, target, {{"data", {{"d", "4"}}}}, "application/strategic-merge-patch+json");
  CHECK(strategic.status == 200);
  CHECK(strategic.body["data"]["d"] == "4");

  const auto unsupported = call(s.port, http::verb::patch, target, {{"data", json::object()}}, "text/plain");
  CHECK(unsupported.status == 415);
  CHECK(merge_patch(s.port, std::string(kConfigMaps) + "/absent", {{"data", json::object()}}).status == 404);
}

TEST_CASE("the status subresource is the only way to change status, and generation tracks spec") {
  Server s;
  const json group = {{"apiVersion", "ballast.dev/v1alpha1"},
                      {"kind", "NodeGroup"},
                      {"metadata", {{"name", "workers"}}},
                      {"spec", {{"minSize", 1}, {"maxSize", 5}}},
                      {"status", {{"currentSize", 9}}}};
  const std::string base = "/apis/ballast.dev/v1alpha1/nodegroups";
  const auto created = post(s.port, base, group);
  REQUIRE(created.status == 201);
  CHECK(!created.body.contains("status"));

  const auto status = merge_patch(s.port, base + "/workers/status", {{"status", {{"currentSize", 2}}}, {"spec", {{"maxSize", 99}}}});
  REQUIRE(status.status == 200);
  CHECK(status.body["status"]["currentSize"] == 2);
  CHECK(status.body["spec"]["maxSize"] == 5);
  CHECK(status.body["metadata"]["generation"] == 1);

  const auto spec = merge_patch(s.port, base + "/workers", {{"status", {{"currentSize", 7}}}, {"spec", {{"maxSize", 6}}}});
  REQUIRE(spec.status == 200);
  CHECK(spec.body["status"]["currentSize"] == 2);
  CHECK(spec.body["spec"]["maxSize"] == 6);
  CHECK(spec.body["metadata"]["generation"] == 2);

  const auto list = get(s.port, base);
  CHECK(list.body["kind"] == "NodeGroupList");
  CHECK(list.body["items"][0]["kind"] == "NodeGroup");  // CRD list items keep kind

  CHECK(s.api.get("ballast.dev/v1alpha1", "NodeGroup", "", "workers").has_value());
}

TEST_CASE("lists paginate with limit and continue, and filter by label and field selectors") {
  Server s;
  s.api.put(make_pod("default", "web-0", {{"app", "web"}, {"tier", "front"}}, "n1"));
  s.api.put(make_pod("default", "web-1", {{"app", "web"}}, "n2"));
  s.api.put(make_pod("default", "db-0", {{"app", "db"}, {"tier", "back"}}, "n1"));
  s.api.put(make_pod("default", "cache-0", {{"app", "cache"}}, "n2"));
  s.api.put(make_pod("other", "web-9", {{"app", "web"}}, ""));

  const auto all = get(s.port, "/api/v1/pods");
  REQUIRE(all.status == 200);
  CHECK(all.body["kind"] == "PodList");
  CHECK(all.body["apiVersion"] == "v1");
  CHECK(all.body["metadata"]["resourceVersion"] == s.api.resource_version());
  CHECK(all.body["items"].size() == 5);
  CHECK(!all.body["items"][0].contains("kind"));  // built-in list items carry no kind

  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    const auto page = get(s.port, std::string(kPods) + "?limit=3" + (token.empty() ? "" : "&continue=" + token));
    REQUIRE(page.status == 200);
    for (const auto& n : names(page.body)) seen.push_back(n);
    token = page.body["metadata"].value("continue", "");
    ++pages;
    // A write between pages does not show up in the snapshot.
    if (pages == 1) s.api.put(make_pod("default", "aaa-new", {{"app", "web"}}, "n1"));
  } while (!token.empty());
  CHECK(pages == 2);
  CHECK(seen == std::vector<std::string>{"cache-0", "db-0", "web-0", "web-1"});

  const auto first = get(s.port, std::string(kPods) + "?limit=1");
  const std::string expired_token = first.body["metadata"]["continue"];
  CHECK(first.body["metadata"]["remainingItemCount"] == 4);
  s.api.compact();
  const auto expired = get(s.port, std::string(kPods) + "?limit=1&continue=" + expired_token);
  CHECK(expired.status == 410);
  CHECK(expired.body["reason"] == "Expired");

  auto select = [&](const std::string& query) { return names(get(s.port, std::string(kPods) + "?" + query).body); };
  using V = std::vector<std::string>;
  CHECK(select("labelSelector=app%3Dweb") == V{"aaa-new", "web-0", "web-1"});
  CHECK(select("labelSelector=app%3D%3Dweb,tier") == V{"web-0"});
  CHECK(select("labelSelector=app!%3Dweb") == V{"cache-0", "db-0"});
  CHECK(select("labelSelector=app%20in%20(db,cache)") == V{"cache-0", "db-0"});
  CHECK(select("labelSelector=app%20notin%20(web)") == V{"cache-0", "db-0"});
  CHECK(select("labelSelector=tier") == V{"db-0", "web-0"});
  CHECK(select("labelSelector=!tier") == V{"aaa-new", "cache-0", "web-1"});
  CHECK(select("fieldSelector=spec.nodeName%3Dn2") == V{"cache-0", "web-1"});
  CHECK(select("fieldSelector=metadata.name%3Ddb-0") == V{"db-0"});
  CHECK(names(get(s.port, "/api/v1/pods?fieldSelector=spec.nodeName%3D").body) == V{"web-9"});
  CHECK(names(get(s.port, "/api/v1/pods?fieldSelector=metadata.namespace%3Dother").body) == V{"web-9"});
  CHECK(get(s.port, std::string(kPods) + "?labelSelector=app%20in%20(").status == 400);
}

TEST_CASE("a watch replays history after its resourceVersion, then streams live changes and bookmarks") {
  FakeApiServerOptions options;
  options.bookmark_interval = 50ms;
  Server s(options);
  s.api.put(make_pod("default", "a", {{"app", "web"}}, "n1"));
  const auto list = get(s.port, kPods);
  const std::string list_rv = list.body["metadata"]["resourceVersion"];
  s.api.put(make_pod("default", "b", {{"app", "web"}}, "n1"));

  WatchStream watch(s.port, std::string(kPods) + "?watch=true&allowWatchBookmarks=true&resourceVersion=" + list_rv);
  auto replayed = watch.next_change();
  REQUIRE(replayed);
  CHECK((*replayed)["type"] == "ADDED");
  CHECK((*replayed)["object"]["metadata"]["name"] == "b");
  CHECK((*replayed)["object"]["kind"] == "Pod");
  REQUIRE(s.api.wait_for_watches(1, 3s));

  s.api.set_pod_ready("default", "a", false);
  auto modified = watch.next_change();
  REQUIRE(modified);
  CHECK((*modified)["type"] == "MODIFIED");
  CHECK((*modified)["object"]["metadata"]["name"] == "a");

  REQUIRE(s.api.remove("v1", "Pod", "default", "a"));
  auto deleted = watch.next_change();
  REQUIRE(deleted);
  CHECK((*deleted)["type"] == "DELETED");
  CHECK(rv_of((*deleted)["object"]) == s.api.resource_version());

  std::optional<json> bookmark;
  while (auto event = watch.next()) {
    if ((*event)["type"] == "BOOKMARK") {
      bookmark = event;
      break;
    }
  }
  REQUIRE(bookmark);
  CHECK((*bookmark)["object"]["kind"] == "Pod");
  CHECK((*bookmark)["object"]["apiVersion"] == "v1");
  CHECK((*bookmark)["object"]["metadata"]["resourceVersion"] == s.api.resource_version());
  CHECK(!(*bookmark)["object"]["metadata"].contains("name"));
}

TEST_CASE("a watch without resourceVersion starts with ADDED for every current object") {
  Server s;
  s.api.put(make_pod("default", "a", {{"app", "web"}}, "n1"));
  s.api.put(make_pod("default", "b", {{"app", "db"}}, "n1"));
  WatchStream watch(s.port, std::string(kPods) + "?watch=1&labelSelector=app%3Dweb");
  auto first = watch.next_change();
  REQUIRE(first);
  CHECK((*first)["type"] == "ADDED");
  CHECK((*first)["object"]["metadata"]["name"] == "a");
  REQUIRE(s.api.wait_for_watches(1, 3s));

  // Objects moving in and out of the selector are ADDED and DELETED for this watcher.
  s.api.patch_merge("v1", "Pod", "default", "a", {{"metadata", {{"labels", {{"app", "api"}}}}}});
  auto left = watch.next_change();
  REQUIRE(left);
  CHECK((*left)["type"] == "DELETED");
  s.api.patch_merge("v1", "Pod", "default", "b", {{"metadata", {{"labels", {{"app", "web"}}}}}});
  auto joined = watch.next_change();
  REQUIRE(joined);
  CHECK((*joined)["type"] == "ADDED");
  CHECK((*joined)["object"]["metadata"]["name"] == "b");
}

TEST_CASE("a watch from a compacted resourceVersion gets 410 Expired") {
  Server s;
  s.api.put(make_pod("default", "a", {}, "n1"));
  const std::string old_rv = s.api.resource_version();
  s.api.put(make_pod("default", "b", {}, "n1"));
  s.api.compact();

  SECTION("as an ERROR event in the stream, by default") {
    WatchStream watch(s.port, std::string(kPods) + "?watch=true&resourceVersion=" + old_rv);
    CHECK(watch.status() == 200);
    auto event = watch.next();
    REQUIRE(event);
    CHECK((*event)["type"] == "ERROR");
    CHECK((*event)["object"]["kind"] == "Status");
    CHECK((*event)["object"]["code"] == 410);
    CHECK((*event)["object"]["reason"] == "Expired");
    bool clean = false;
    CHECK(watch.wait_end(clean));
    CHECK(clean);
  }
  SECTION("as HTTP 410 when the knob says so") {
    s.api.set_watch_expired_as_http_410(true);
    WatchStream watch(s.port, std::string(kPods) + "?watch=true&resourceVersion=" + old_rv);
    CHECK(watch.status() == 410);
    CHECK(watch.error_body()["reason"] == "Expired");
  }
  SECTION("but the current resourceVersion is still fine") {
    WatchStream watch(s.port, std::string(kPods) + "?watch=true&resourceVersion=" + s.api.resource_version());
    REQUIRE(s.api.wait_for_watches(1, 3s));
    s.api.put(make_pod("default", "c", {}, "n1"));
    auto event = watch.next_change();
    REQUIRE(event);
    CHECK((*event)["type"] == "ADDED");
    CHECK((*event)["object"]["metadata"]["name"] == "c");
  }
}

TEST_CASE("drop_watches closes open streams abruptly and timeoutSeconds ends them cleanly") {
  Server s;
  WatchStream a(s.port, std::string(kPods) + "?watch=true");
  WatchStream b(s.port, "/api/v1/nodes?watch=true");
  REQUIRE(s.api.wait_for_watches(2, 3s));
  CHECK(s.api.open_watches("/api/v1/nodes") == 1);
  s.api.drop_watches();
  CHECK(s.api.open_watches() == 0);
  bool clean = true;
  CHECK(a.wait_end(clean));
  CHECK(!clean);
  CHECK(b.wait_end(clean));
  CHECK(!clean);

  WatchStream timed(s.port, std::string(kPods) + "?watch=true&timeoutSeconds=1");
  CHECK(timed.wait_end(clean, 5s));
  CHECK(clean);
  CHECK(s.api.count_requests("GET", kPods) == 2);
}

TEST_CASE("evictions honour the PodDisruptionBudget that covers the pod") {
  Server s;
  for (const char* name : {"web-0", "web-1", "web-2"}) s.api.put(make_pod("default", name, {{"app", "web"}}, "n1"));
  const auto pdb = s.api.put(make_pdb("default", "web-pdb", {{"app", "web"}}, 2));
  CHECK(pdb["status"]["disruptionsAllowed"] == 1);
  CHECK(pdb["status"]["currentHealthy"] == 3);
  CHECK(pdb["status"]["desiredHealthy"] == 2);
  CHECK(pdb["status"]["expectedPods"] == 3);

  WatchStream pdb_watch(s.port, "/apis/policy/v1/namespaces/default/poddisruptionbudgets?watch=true&resourceVersion=" +
                                    s.api.resource_version());
  REQUIRE(s.api.wait_for_watches(1, 3s));

  auto eviction = [](const std::string& name) {
    return json{{"apiVersion", "policy/v1"}, {"kind", "Eviction"}, {"metadata", {{"name", name}, {"namespace", "default"}}}};
  };
  const auto evicted = post(s.port, std::string(kPods) + "/web-0/eviction", eviction("web-0"));
  CHECK(evicted.status == 201);
  CHECK(evicted.body["status"] == "Success");
  CHECK(!s.api.get("v1", "Pod", "default", "web-0"));

  auto status_change = pdb_watch.next_change();
  REQUIRE(status_change);
  CHECK((*status_change)["type"] == "MODIFIED");
  CHECK((*status_change)["object"]["status"]["disruptionsAllowed"] == 0);
  CHECK((*status_change)["object"]["status"]["currentHealthy"] == 2);

  const auto blocked = post(s.port, std::string(kPods) + "/web-1/eviction", eviction("web-1"));
  CHECK(blocked.status == 429);
  CHECK(blocked.body["reason"] == "TooManyRequests");
  CHECK(blocked.body["message"].get<std::string>().find("disruption budget") != std::string::npos);
  CHECK(blocked.body["details"]["causes"][0]["message"].get<std::string>().find("web-pdb") != std::string::npos);
  CHECK(s.api.get("v1", "Pod", "default", "web-1"));

  SECTION("a not-ready pod is evictable under AlwaysAllow") {
    s.api.patch_merge("policy/v1", "PodDisruptionBudget", "default", "web-pdb",
                      {{"spec", {{"unhealthyPodEvictionPolicy", "AlwaysAllow"}}}});
    s.api.set_pod_ready("default", "web-2", false);
    CHECK(post(s.port, std::string(kPods) + "/web-2/eviction", eviction("web-2")).status == 201);
    CHECK(!s.api.get("v1", "Pod", "default", "web-2"));
  }
  SECTION("a not-ready pod is not evictable under the default policy when the budget is short") {
    s.api.set_pod_ready("default", "web-2", false);
    CHECK(post(s.port, std::string(kPods) + "/web-2/eviction", eviction("web-2")).status == 429);
  }
  SECTION("two PDBs over one pod make eviction fail with 500") {
    s.api.put(make_pdb("default", "web-extra", {{"app", "web"}}, nullptr, 1));
    const auto refused = post(s.port, std::string(kPods) + "/web-1/eviction", eviction("web-1"));
    CHECK(refused.status == 500);
    CHECK(refused.body["reason"] == "InternalError");
    CHECK(refused.body["message"].get<std::string>().find("more than one PodDisruptionBudget") != std::string::npos);
  }
  SECTION("pods no PDB covers are always evicted; missing pods are 404") {
    s.api.put(make_pod("default", "lonely", {{"app", "batch"}}, "n1"));
    CHECK(post(s.port, std::string(kPods) + "/lonely/eviction", eviction("lonely")).status == 201);
    CHECK(post(s.port, std::string(kPods) + "/ghost/eviction", eviction("ghost")).status == 404);
  }
  SECTION("a dry-run eviction changes nothing") {
    s.api.put(make_pod("default", "web-3", {{"app", "web"}}, "n1"));
    CHECK(post(s.port, std::string(kPods) + "/web-1/eviction?dryRun=All", eviction("web-1")).status == 201);
    CHECK(s.api.get("v1", "Pod", "default", "web-1"));
  }
}

TEST_CASE("PDB percentages and maxUnavailable round up like the disruption controller") {
  Server s;
  s.api.put(make_pod("default", "solo", {{"app", "solo"}}, "n1"));
  CHECK(s.api.put(make_pdb("default", "min-50", {{"app", "solo"}}, "50%"))["status"]["disruptionsAllowed"] == 0);
  s.api.remove("policy/v1", "PodDisruptionBudget", "default", "min-50");
  const auto max1 = s.api.put(make_pdb("default", "max-1", {{"app", "solo"}}, nullptr, 1));
  CHECK(max1["status"]["disruptionsAllowed"] == 1);
  CHECK(max1["status"]["desiredHealthy"] == 0);
  s.api.remove("policy/v1", "PodDisruptionBudget", "default", "max-1");
  const auto max10pct = s.api.put(make_pdb("default", "max-10pct", {{"app", "solo"}}, nullptr, "10%"));
  CHECK(max10pct["status"]["disruptionsAllowed"] == 1);
}

TEST_CASE("pod deletion grace keeps evicted pods terminating for a while") {
  FakeApiServerOptions options;
  options.pod_deletion_grace = 200ms;
  Server s(options);
  s.api.put(make_pod("default", "slow", {{"app", "slow"}}, "n1"));
  const auto evicted = post(s.port, std::string(kPods) + "/slow/eviction",
                            {{"apiVersion", "policy/v1"}, {"kind", "Eviction"}, {"metadata", {{"name", "slow"}}}});
  CHECK(evicted.status == 201);
  const auto terminating = s.api.get("v1", "Pod", "default", "slow");
  REQUIRE(terminating);
  CHECK((*terminating)["metadata"].contains("deletionTimestamp"));
  CHECK(FakeApiServer::wait_for([&] { return !s.api.get("v1", "Pod", "default", "slow"); }, 3s));
}

TEST_CASE("finalizers hold a deleted object until the last one is removed") {
  Server s;
  json node = make_node("n1");
  node["metadata"]["finalizers"] = json::array({"ballast.dev/drain"});
  s.api.put(node);
  const auto deleting = del(s.port, "/api/v1/nodes/n1");
  CHECK(deleting.status == 200);
  CHECK(deleting.body["metadata"].contains("deletionTimestamp"));
  CHECK(get(s.port, "/api/v1/nodes/n1").status == 200);
  CHECK(merge_patch(s.port, "/api/v1/nodes/n1", {{"metadata", {{"finalizers", nullptr}}}}).status == 200);
  CHECK(get(s.port, "/api/v1/nodes/n1").status == 404);
}

TEST_CASE("leases give leader election its compare-and-swap") {
  Server s;
  const std::string leases = "/apis/coordination.k8s.io/v1/namespaces/ballast/leases";
  const json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                      {"kind", "Lease"},
                      {"metadata", {{"name", "ballast-leader"}, {"namespace", "ballast"}}},
                      {"spec", {{"holderIdentity", "pod-a"}, {"leaseDurationSeconds", 15}}}};
  REQUIRE(post(s.port, leases, lease).status == 201);
  CHECK(post(s.port, leases, lease).status == 409);

  const auto seen_by_a = get(s.port, leases + "/ballast-leader").body;
  const auto seen_by_b = get(s.port, leases + "/ballast-leader").body;
  json renew = seen_by_a;
  renew["spec"]["renewTime"] = "2024-01-01T00:00:01.000000Z";
  json takeover = seen_by_b;
  takeover["spec"]["holderIdentity"] = "pod-b";
  takeover["spec"]["leaseTransitions"] = 1;
  CHECK(put(s.port, leases + "/ballast-leader", renew).status == 200);
  const auto lost = put(s.port, leases + "/ballast-leader", takeover);
  CHECK(lost.status == 409);
  CHECK(lost.body["reason"] == "Conflict");
  CHECK(lost.body["message"].get<std::string>().find("leases.coordination.k8s.io \"ballast-leader\"") !=
        std::string::npos);
  CHECK(s.api.get("coordination.k8s.io/v1", "Lease", "ballast", "ballast-leader").value()["spec"]["holderIdentity"] ==
        "pod-a");
}

TEST_CASE("fail_next injects a Status error a fixed number of times, and latency delays answers") {
  Server s;
  s.api.fail_next("GET", "/api/v1/nodes", 500, 2);
  s.api.fail_next("", "/api/v1/namespaces/default/pods", 429);
  auto first = get(s.port, "/api/v1/nodes");
  CHECK(first.status == 500);
  CHECK(first.body["reason"] == "InternalError");
  CHECK(get(s.port, "/api/v1/nodes").status == 500);
  CHECK(get(s.port, "/api/v1/nodes").status == 200);
  const auto limited = post(s.port, kPods, make_pod("default", "p", {}));
  CHECK(limited.status == 429);
  CHECK(limited.body["reason"] == "TooManyRequests");
  CHECK(post(s.port, kPods, make_pod("default", "p", {})).status == 201);

  s.api.fail_next("GET", "/api/v1/pods", 503);
  WatchStream refused(s.port, "/api/v1/pods?watch=true");
  CHECK(refused.status() == 503);

  const auto log = s.api.requests();
  REQUIRE(log.size() == 6);
  CHECK(log[0].method == "GET");
  CHECK(log[0].path == "/api/v1/nodes");
  CHECK(log[5].query == "watch=true");
  CHECK(log[5].watch);
  CHECK(s.api.count_requests("POST", "/api/v1/namespaces/default/pods") == 2);

  s.api.set_latency(150ms);
  const auto start = std::chrono::steady_clock::now();
  CHECK(get(s.port, "/api/v1/nodes").status == 200);
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
}

TEST_CASE("discovery reports groups, and absent groups answer 404") {
  Server s;
  const auto keda = get(s.port, "/apis/keda.sh/v1alpha1");
  REQUIRE(keda.status == 200);
  CHECK(keda.body["kind"] == "APIResourceList");
  bool has_scaledobjects = false;
  for (const auto& r : keda.body["resources"]) has_scaledobjects |= r["name"] == "scaledobjects";
  CHECK(has_scaledobjects);
  CHECK(get(s.port, "/apis").body["kind"] == "APIGroupList");
  CHECK(get(s.port, "/api/v1").body["groupVersion"] == "v1");

  s.api.set_group_absent("keda.sh");
  CHECK(get(s.port, "/apis/keda.sh/v1alpha1").status == 404);
  CHECK(get(s.port, "/apis/keda.sh/v1alpha1/scaledobjects").status == 404);
  const auto groups = get(s.port, "/apis");
  for (const auto& g : groups.body["groups"]) CHECK(g["name"] != "keda.sh");
  s.api.set_group_absent("keda.sh", false);
  CHECK(get(s.port, "/apis/keda.sh/v1alpha1/scaledobjects").status == 200);
}

TEST_CASE("deleting an owner garbage-collects its dependents unless orphaned") {
  Server s;
  const auto rs = s.api.put({{"apiVersion", "apps/v1"},
                             {"kind", "ReplicaSet"},
                             {"metadata", {{"name", "web-abc"}, {"namespace", "default"}}},
                             {"spec", {{"replicas", 2}}}});
  const json owner_ref = json::array(
      {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web-abc"}, {"uid", rs["metadata"]["uid"]}, {"controller", true}}});
  for (const char* name : {"web-abc-1", "web-abc-2"}) {
    json pod = make_pod("default", name, {{"app", "web"}}, "n1");
    pod["metadata"]["ownerReferences"] = owner_ref;
    s.api.put(pod);
  }
  json stray = make_pod("default", "stray", {{"app", "web"}}, "n1");
  stray["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "never"}, {"uid", "no-such-uid"}}});
  s.api.put(stray);

  SECTION("background") {
    CHECK(del(s.port, "/apis/apps/v1/namespaces/default/replicasets/web-abc").status == 200);
    CHECK(s.api.list("pods", "default").size() == 1);  // only the stray pod, whose owner never existed
  }
  SECTION("orphan") {
    CHECK(del(s.port, "/apis/apps/v1/namespaces/default/replicasets/web-abc?propagationPolicy=Orphan").status == 200);
    CHECK(s.api.list("pods").size() == 3);
  }
}
