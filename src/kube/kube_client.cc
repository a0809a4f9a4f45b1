#include "kube/kube_client.h"

#include <sys/stat.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "core/nesting.h"
#include "kube/model/object_meta.h"
#include "net/http_client.h"

namespace ballast::kube {
namespace {

using nlohmann::json;

// A watch event line larger than this is a broken stream, not an object.
constexpr size_t kMaxWatchLine = 16u << 20;

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

Result<json> parse_body(const net::HttpClientResponse& response, const std::string& what) {
  if (auto nesting = check_json_nesting(response.body, what); !nesting) return io_error(nesting.error().message);
  json body = json::parse(response.body, nullptr, false);
  if (body.is_discarded()) return io_error(what + ": the apiserver answered with a body that is not JSON");
  return body;
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

// Splits a watch body into lines and hands each event to the caller; ends the stream
// itself on an ERROR event (410 → kExpired).
struct WatchStream {
  KubeApi::EventCallback on_event;
  KubeApi::EndCallback on_end;
  std::string what;
  std::string pending;
  std::optional<Error> error_event;

  bool consume(std::string_view piece) {
    pending.append(piece);
    size_t start = 0;
    for (size_t newline; (newline = pending.find('\n', start)) != std::string::npos; start = newline + 1) {
      if (!handle_line(std::string_view(pending).substr(start, newline - start))) return false;
    }
    pending.erase(0, start);
    if (pending.size() > kMaxWatchLine) {
      error_event = io_error(what + ": a watch event is larger than " + std::to_string(kMaxWatchLine) + " bytes");
      return false;
    }
    return true;
  }

  bool handle_line(std::string_view line) {
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) return true;
    json event = parse_bounded_json<json>(line);
    if (event.is_discarded() || !event.is_object() || !event.contains("type") || !event["type"].is_string()) {
      error_event = io_error(what + ": malformed watch event");
      return false;
    }
    std::string type = event["type"].get<std::string>();
    json object = event.contains("object") ? std::move(event["object"]) : json::object();
    if (type == "ERROR") {
      const int code = object.is_object() && object.contains("code") && object["code"].is_number_integer()
                           ? object["code"].get<int>()
                           : 500;
      error_event = api_error(code, object.dump(), what);
      return false;
    }
    on_event(WatchEvent{std::move(type), std::move(object)});
    return true;
  }
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

Error api_error(int http_status, const std::string& body, const std::string& what) {
  std::string message;
  std::string reason;
  json status = parse_bounded_json<json>(body);
  if (status.is_object()) {
    if (status.contains("message") && status["message"].is_string()) message = status["message"].get<std::string>();
    if (status.contains("reason") && status["reason"].is_string()) reason = status["reason"].get<std::string>();
  }
  const std::string text = what + ": HTTP " + std::to_string(http_status) + (reason.empty() ? "" : " " + reason) +
                           (message.empty() ? "" : ": " + message);
  switch (http_status) {
    case 400:
    case 422: return invalid_argument(text);
    case 401:
    case 403: return Error{ErrorCode::kInternal, text};
    case 404: return Error{ErrorCode::kNotFound, text};
    case 409: return Error{reason == "AlreadyExists" ? ErrorCode::kAlreadyExists : ErrorCode::kConflict, text};
    case 410: return Error{ErrorCode::kExpired, text};
    case 429: return Error{ErrorCode::kTooManyRequests, text};
    default: return unavailable(text);
  }
}

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

  // A call's answer as JSON. An answer shed with Retry-After (apiserver max-in-flight or
  // priority and fairness) is waited out and sent again, within the call's timeout.
  Result<json> exchange(net::HttpClientRequest request, const std::string& what) {
    const auto deadline = std::chrono::steady_clock::now() + options.request_timeout;
    for (int retries_left = options.max_throttle_retries;; --retries_left) {
      auto response = send(request);
      if (!response) return Error{response.error().code, what + ": " + response.error().message};
      if (response->status >= 200 && response->status < 300) return parse_body(*response, what);
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

Result<ObjectList> KubeClient::list(const Resource& resource, std::string_view ns, const ListOptions& options) {
  ObjectList list;
  std::string continue_token;
  const std::string what = "list " + resource.plural;
  do {
    const std::string query = query_join({{"labelSelector", options.label_selector},
                                          {"fieldSelector", options.field_selector},
                                          {"limit", options.page_size > 0 ? std::to_string(options.page_size) : ""},
                                          {"continue", continue_token}});
    auto page = impl_->exchange(impl_->request("GET", resource_path(resource, ns) + query), what);
    if (!page) return page.error();
    const json& metadata = page->value("metadata", json::object());
    continue_token = metadata.value("continue", std::string());
    list.resource_version = metadata.value("resourceVersion", std::string());
    auto items = page->find("items");
    if (items != page->end() && items->is_array()) {
      for (auto& item : *items) {
        // Items of a list carry no kind/apiVersion; watchers and planners expect them.
        item["kind"] = resource.kind;
        item["apiVersion"] = resource.api_version();
        list.items.push_back(std::move(item));
      }
    }
  } while (!continue_token.empty());
  return list;
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
    if (entry.is_object() && entry.value("name", std::string()) == resource.plural) return true;
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
  auto stream = std::make_shared<WatchStream>();
  stream->on_event = std::move(on_event);
  stream->on_end = std::move(on_end);
  stream->what = "watch " + resource.plural;
  // A watch may end after the client is gone; it is not counted then.
  std::weak_ptr<Impl> impl = impl_;
  auto canceller = impl_->http.stream(
      std::move(request), [stream](std::string_view piece) { return stream->consume(piece); },
      [stream, impl](Result<net::HttpClientResponse> response) {
        if (auto alive = impl.lock()) alive->count("GET", response);
        if (stream->error_event) return stream->on_end(*stream->error_event);
        if (!response) return stream->on_end(Error{response.error().code, stream->what + ": " + response.error().message});
        if (response->status < 200 || response->status >= 300) {
          return stream->on_end(api_error(response->status, response->body, stream->what));
        }
        stream->on_end(Ok{});
      });
  return std::make_unique<ClientWatchHandle>(std::move(canceller));
}

}  // namespace ballast::kube
