#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "kube/resource.h"

namespace ballast::kube {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;  // pages are fetched with `limit` + `continue` until the list is whole
};

// Receives a list's items one by one as each page arrives (client-go's reflector filling its
// store page by page): a cache that keeps part of each object, in its own form, then never
// holds a whole large list of parsed objects (30,000 real pods: 360 MB whole, 150 MB
// trimmed, 27 MB as the cache's text).
using ListItemSink = std::function<void(nlohmann::json&&)>;

struct WatchOptions {
  std::string resource_version;  // empty: synthetic ADDED events for what exists, then changes
  std::string label_selector;
  std::string field_selector;
  std::chrono::seconds timeout{300};  // the server ends the watch after this (timeoutSeconds)
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  nlohmann::json object;
};

enum class PatchType { kMerge, kJson, kStrategicMerge };

// Preconditions of a delete: it only happens while the object still has this uid / version.
struct DeleteOptions {
  std::string uid;
  std::string resource_version;
  std::optional<int> grace_period_seconds;
  std::string propagation_policy;  // Background, Foreground, Orphan; empty = server default
};

// What the Eviction subresource answered.
enum class EvictionResult {
  kEvicted,        // 200/201: the pod is being deleted
  kBlockedByPdb,   // 429: a PodDisruptionBudget allows no disruption now; retry later
  kMultiplePdbs,   // 500: more than one PDB selects the pod; eviction can never succeed
  kPodGone,        // 404: nothing to evict
};

// An open watch. Destroying or cancelling it ends the stream; its end callback still runs.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
  virtual void cancel() = 0;
};

// Kubernetes API access. Calls other than watch() block: reconcilers call them from their
// own threads, never from an IoPool thread. Errors carry the API's meaning: kNotFound,
// kAlreadyExists, kConflict (stale resourceVersion), kExpired (410), kTooManyRequests,
// kInvalidArgument (400/422: the request is wrong), kUnavailable (transport, 5xx),
// kInternal (401/403: ballast's credentials or RBAC). Thread-safe.
class KubeApi {
 public:
  using EventCallback = std::function<void(WatchEvent)>;
  using EndCallback = std::function<void(Status)>;

  virtual ~KubeApi() = default;

  virtual Result<nlohmann::json> get(const Resource& resource, std::string_view ns, std::string_view name) = 0;
  // Hands every item to `take_item`; returns the whole list's resourceVersion (where a watch
  // resumes). On an error, the items of the pages before it have been handed over.
  virtual Result<std::string> list(const Resource& resource, std::string_view ns, const ListOptions& options,
                                   const ListItemSink& take_item) = 0;
  virtual Result<nlohmann::json> create(const Resource& resource, std::string_view ns, const nlohmann::json& object) = 0;
  // PUT of the whole object; its metadata.resourceVersion makes it conditional.
  virtual Result<nlohmann::json> update(const Resource& resource, std::string_view ns, const nlohmann::json& object) = 0;
  virtual Result<nlohmann::json> patch(const Resource& resource, std::string_view ns, std::string_view name,
                                       PatchType type, const nlohmann::json& patch) = 0;
  virtual Status remove(const Resource& resource, std::string_view ns, std::string_view name,
                        const DeleteOptions& options) = 0;
  virtual Result<EvictionResult> evict(std::string_view ns, std::string_view pod,
                                       std::optional<int> grace_period_seconds) = 0;
  // Whether the apiserver serves this resource (a CRD may not be installed).
  virtual Result<bool> serves(const Resource& resource) = 0;

  // Starts a watch and returns at once. `on_event` gets events in order on an I/O thread
  // (it must not block); `on_end` runs exactly once: OK when the server ended the watch
  // (timeout), kExpired when the resourceVersion is too old (relist), another error when
  // the stream failed or was cancelled.
  virtual std::unique_ptr<WatchHandle> watch(const Resource& resource, std::string_view ns,
                                             const WatchOptions& options, EventCallback on_event,
                                             EndCallback on_end) = 0;
};

}  // namespace ballast::kube
