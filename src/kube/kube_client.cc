#include "kube/kube_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "kube/model/json_lookup.h"
#include "kube/model/object_meta.h"
#include "kube/wire.h"
#include "net/http_client.h"

namespace ballast::kube {
namespace {

using nlohmann::json;

std::string query_join(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string query;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    query += query.empty() ? "?" : "&";
    query += key + "=" + net::url_encode(value);
  }
  return query;
}

const char* content_type(PatchType type) {
  switch (type) {
    case PatchType::kMerge: return "application/merge-patch+json";
    case PatchType::kJson: return "application/json-patch+json";
    case PatchType::kStrategicMerge: return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

// The bearer token, re-read from its file when the file changes. The kubelet rotates a
// projected token by swapping a symlink to a new file, so the inode tells a new token
// apart even when the modification time has the same (coarse) timestamp.
class BearerToken {
 public:
  BearerToken(std::string token, std::string file) : token_(std::move(token)), file_(std::move(file)) {}

  std::string current() {
    if (file_.empty()) return token_;
    struct stat info {};
    if (::stat(file_.c_str(), &info) != 0) return cached();
    const FileStamp stamp{info.st_ino, int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec,
                          info.st_size};
    std::lock_guard lock(mutex_);
    if (stamp != stamp_) {
      std::ifstream in(file_);
      std::ostringstream text;
      text << in.rdbuf();
      std::string token = text.str();
      while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
      if (!token.empty()) {
        token_ = std::move(token);
        stamp_ = stamp;
      }
    }
    return token_;
  }

 private:
  struct FileStamp {
    ino_t inode = 0;
    int64_t modified_ns = -1;
    off_t size = -1;
    bool operator==(const FileStamp&) const = default;
  };

  std::string cached() {
    std::lock_guard lock(mutex_);
    return token_;
  }

  std::mutex mutex_;  // guards token_ and stamp_
  std::string token_;
  const std::string file_;
  FileStamp stamp_;
};

class ClientWatchHandle final : public WatchHandle {
 public:
  explicit ClientWatchHandle(std::function<void()> canceller) : canceller_(std::move(canceller)) {}
  ~ClientWatchHandle() override { cancel(); }
  void cancel() override { canceller_(); }

 private:
  std::function<void()> canceller_;
};

}  // namespace

std::optional<std::chrono::milliseconds> throttle_wait(int http_status, std::optional<std::chrono::seconds> retry_after,
                                                      int retries_left, std::chrono::seconds cap,
                                                      std::chrono::milliseconds time_left) {
  if (http_status != 429 && http_status < 500) return std::nullopt;
  if (!retry_after || retries_left <= 0) return std::nullopt;
  const std::chrono::milliseconds wait = std::min<std::chrono::seconds>(*retry_after, cap);
  if (wait >= time_left) return std::nullopt;
  return wait;
}

struct KubeClient::Impl {
  Impl(net::IoPool& pool, KubeConfig config, Options options)
      : http(pool), config(std::move(config)), options(options), token(this->config.token, this->config.token_file) {}

  net::HttpClientRequest request(std::string method, const std::string& path_and_query) {
    net::HttpClientRequest request;
    request.method = std::move(method);
    request.url = config.server + path_and_query;
    request.tls = config.tls;
    request.timeout = options.request_timeout;
    request.body_limit = 256u << 20;  // a cold list of a large cluster in one page
    request.headers.emplace_back("Accept", "application/json");
    if (auto bearer = token.current(); !bearer.empty()) request.headers.emplace_back("Authorization", "Bearer " + bearer);
    return request;
  }

  // Sends and returns the response for any HTTP status; transport errors as kUnavailable.
  Result<net::HttpClientResponse> send(net::HttpClientRequest request) {
    const std::string method = request.method;
    auto response = http.request_sync(std::move(request));
    count(method, response);
    return response;
  }

  void count(const std::string& method, const Result<net::HttpClientResponse>& response) {
    if (options.metrics == nullptr) return;
    options.metrics
        ->counter("ballast_kube_api_requests_total", "Requests to the Kubernetes apiserver, by method and answer",
                  {{"method", method}, {"code", response ? std::to_string(response->status) : "error"}})
        .increment();
  }

  // A call's answer when it is a 2xx; transport errors and other statuses as errors naming
  // `what`. An answer shed with Retry-After (apiserver max-in-flight or priority and
  // fairness) is waited out and sent again, within the call's timeout.
  Result<net::HttpClientResponse> send_checked(const net::HttpClientRequest& request, const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + options.request_timeout;
    for (int retries_left = options.max_throttle_retries;; --retries_left) {
      auto response = send(request);
      if (!response) return Error{response.error().code, what + ": " + response.error().message};
      if (response->status >= 200 && response->status < 300) return response;
      const auto time_left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      const auto wait = throttle_wait(response->status, net::parse_retry_after(*response), retries_left,
                                      options.max_retry_after, time_left);
      if (!wait) return api_error(response->status, response->body, what);
      logger.info("apiserver asked to retry later", {{"call", what}, {"status", response->status},
                                                  {"retryAfterMs", static_cast<int64_t>(wait->count())}});
      std::this_thread::sleep_for(*wait);
    }
  }

  Result<json> exchange(const net::HttpClientRequest& request, const std::string& what) {
    auto response = send_checked(request, what);
    if (!response) return response.error();
    return parse_api_body(response->body, what);
  }

  net::HttpClient http;
  const KubeConfig config;
  const Options options;
  BearerToken token;
  Logger logger{"kube"};
};

namespace {

std::string describe(const Resource& resource, std::string_view ns, std::string_view name) {
  std::string text = resource.kind;
  if (!ns.empty() || !name.empty()) text += " ";
  if (!ns.empty()) text += std::string(ns) + "/";
  return text + std::string(name);
}

}  // namespace

KubeClient::KubeClient(net::IoPool& pool, KubeConfig config) : KubeClient(pool, std::move(config), Options{}) {}

KubeClient::KubeClient(net::IoPool& pool, KubeConfig config, Options options)
    : impl_(std::make_shared<Impl>(pool, std::move(config), options)) {}

KubeClient::~KubeClient() = default;

Result<json> KubeClient::get(const Resource& resource, std::string_view ns, std::string_view name) {
  return impl_->exchange(impl_->request("GET", resource_path(resource, ns, name)),
                         "get " + describe(resource, ns, name));
}

Result<std::string> KubeClient::list(const Resource& resource, std::string_view ns, const ListOptions& options,
                                     const ListItemSink& take_item) {
  std::string resource_version;
  std::string continue_token;
  const std::string what = "list " + resource.plural;
  do {
    const std::string query = query_join({{"labelSelector", options.label_selector},
                                          {"fieldSelector", options.field_selector},
                                          {"limit", options.page_size > 0 ? std::to_string(options.page_size) : ""},
                                          {"continue", continue_token}});
    auto response = impl_->send_checked(impl_->request("GET", resource_path(resource, ns) + query), what);
    if (!response) return response.error();
    auto page = decode_list_page(response->body, resource, what);
    if (!page) return page.error();
    continue_token = std::move(page->continue_token);
    resource_version = std::move(page->resource_version);
    for (auto& item : page->items) take_item(std::move(item));
  } while (!continue_token.empty());
  return resource_version;
}

Result<json> KubeClient::create(const Resource& resource, std::string_view ns, const json& object) {
  auto request = impl_->request("POST", resource_path(resource, ns));
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = object.dump();
  return impl_->exchange(std::move(request), "create " + describe(resource, ns, kube::name(object)));
}

Result<json> KubeClient::update(const Resource& resource, std::string_view ns, const json& object) {
  const std::string name = kube::name(object);
  auto request = impl_->request("PUT", resource_path(resource, ns, name));
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = object.dump();
  return impl_->exchange(std::move(request), "update " + describe(resource, ns, name));
}

Result<json> KubeClient::patch(const Resource& resource, std::string_view ns, std::string_view name, PatchType type,
                               const json& patch) {
  auto request = impl_->request("PATCH", resource_path(resource, ns, name));
  request.headers.emplace_back("Content-Type", content_type(type));
  request.body = patch.dump();
  return impl_->exchange(std::move(request), "patch " + describe(resource, ns, name));
}

Status KubeClient::remove(const Resource& resource, std::string_view ns, std::string_view name,
                          const DeleteOptions& options) {
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.uid.empty()) body["preconditions"]["uid"] = options.uid;
  if (!options.resource_version.empty()) body["preconditions"]["resourceVersion"] = options.resource_version;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  auto request = impl_->request("DELETE", resource_path(resource, ns, name));
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = body.dump();
  auto deleted = impl_->exchange(std::move(request), "delete " + describe(resource, ns, name));
  if (!deleted) return deleted.error();
  return Ok{};
}

Result<EvictionResult> KubeClient::evict(std::string_view ns, std::string_view pod,
                                         std::optional<int> grace_period_seconds) {
  json eviction = {{"apiVersion", "policy/v1"},
                   {"kind", "Eviction"},
                   {"metadata", {{"name", pod}, {"namespace", ns}}}};
  if (grace_period_seconds) eviction["deleteOptions"]["gracePeriodSeconds"] = *grace_period_seconds;
  auto request = impl_->request("POST", resource_path(pods(), ns, pod, "eviction"));
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = eviction.dump();
  const std::string what = "evict Pod " + std::string(ns) + "/" + std::string(pod);
  auto response = impl_->send(std::move(request));
  if (!response) return Error{response.error().code, what + ": " + response.error().message};
  switch (response->status) {
    case 200:
    case 201: return EvictionResult::kEvicted;
    case 404: return EvictionResult::kPodGone;
    case 429: return EvictionResult::kBlockedByPdb;
    case 500: {
      // The apiserver's only 500 for an eviction is "more than one PodDisruptionBudget";
      // anything else is a server failure to retry.
      if (response->body.find("more than one") != std::string::npos) return EvictionResult::kMultiplePdbs;
      return api_error(response->status, response->body, what);
    }
    default: return api_error(response->status, response->body, what);
  }
}

Result<bool> KubeClient::serves(const Resource& resource) {
  const std::string path = resource.group.empty() ? "/api/" + resource.version
                                                  : "/apis/" + resource.group + "/" + resource.version;
  auto discovery = impl_->exchange(impl_->request("GET", path), "discover " + resource.api_version());
  if (!discovery) {
    if (discovery.error().code == ErrorCode::kNotFound) return false;
    return discovery.error();
  }
  auto resources = discovery->find("resources");
  if (resources == discovery->end() || !resources->is_array()) return false;
  for (const auto& entry : *resources) {
    if (string_at(entry, {"name"}) == resource.plural) return true;
  }
  return false;
}

std::unique_ptr<WatchHandle> KubeClient::watch(const Resource& resource, std::string_view ns,
                                               const WatchOptions& options, EventCallback on_event,
                                               EndCallback on_end) {
  const std::string query = query_join({{"watch", "true"},
                                        {"allowWatchBookmarks", "true"},
                                        {"resourceVersion", options.resource_version},
                                        {"labelSelector", options.label_selector},
                                        {"fieldSelector", options.field_selector},
                                        {"timeoutSeconds", std::to_string(options.timeout.count())}});
  auto request = impl_->request("GET", resource_path(resource, ns) + query);
  // The server ends the watch after timeoutSeconds; the client allows a margin past it.
  request.timeout = options.timeout + std::chrono::seconds(30);
  const std::string what = "watch " + resource.plural;
  auto reader = std::make_shared<WatchLineReader>(what, std::move(on_event));
  // A watch may end after the client is gone; it is not counted then. Nor is one this side
  // cancelled (the informer's resync, shutdown): that is no answer of the apiserver's.
  std::weak_ptr<Impl> impl = impl_;
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto canceller = impl_->http.stream(
      std::move(request), [reader](std::string_view piece) { return reader->consume(piece); },
      [reader, what, impl, cancelled, on_end = std::move(on_end)](Result<net::HttpClientResponse> response) {
        if (auto alive = impl.lock(); alive && !*cancelled) alive->count("GET", response);
        if (reader->error()) return on_end(*reader->error());
        if (!response) return on_end(Error{response.error().code, what + ": " + response.error().message});
        if (response->status < 200 || response->status >= 300) {
          return on_end(api_error(response->status, response->body, what));
        }
        on_end(Ok{});
      });
  return std::make_unique<ClientWatchHandle>([cancelled, canceller = std::move(canceller)] {
    *cancelled = true;
    canceller();
  });
}

}  // namespace ballast::kube
