#pragma once

// A fake Kubernetes apiserver for integration tests: plain HTTP on 127.0.0.1, the real
// REST shapes (paths, verbs, Status errors, list/watch wire format), a store with one
// global resourceVersion, watch history with 410 after compaction, bookmarks, the
// eviction subresource with PodDisruptionBudget semantics, owner-reference GC, and
// fault-injection knobs.
//
// Ownership and threads: the test owns the FakeApiServer (usually on the stack). start()
// spawns an accept thread, one thread per HTTP connection (synchronous Beast I/O; a
// watch holds its connection's thread for as long as it streams) and one timer thread
// (bookmarks are sent by the watch threads themselves; the timer thread reaps objects
// whose deletion grace expired). stop() - also run by the destructor - closes every
// socket and joins every thread. Every public method is thread-safe and may be called
// from any thread while the server runs. Store changes made through the test-side API
// (put/remove/patch_merge/...) behave exactly like HTTP writes: they bump the
// resourceVersion and are seen by watchers.
//
// Simplifications against the real apiserver (on purpose, keep tests simple):
// - No authz, no admission, no schema validation beyond name/namespace rules; a
//   namespace need not exist before objects are created in it. Authentication only when
//   a bearer token is required (require_bearer_token).
// - Only the resources in the built-in table are served; others answer 404 like the real
//   server (extend with register_resource). Built in: core v1 pods, nodes, namespaces,
//   events, configmaps, secrets, services, endpoints, serviceaccounts, PVCs, PVs; apps/v1
//   deployments, statefulsets, daemonsets, replicasets, controllerrevisions; policy/v1
//   poddisruptionbudgets; coordination.k8s.io/v1 leases; scheduling.k8s.io/v1
//   priorityclasses; events.k8s.io/v1 events; batch/v1 jobs, cronjobs; autoscaling/v2
//   HPAs; discovery.k8s.io/v1 endpointslices; apiextensions.k8s.io/v1 CRDs;
//   admissionregistration.k8s.io/v1 webhook configurations; keda.sh/v1alpha1
//   scaledobjects, scaledjobs, (cluster)triggerauthentications; ballast.dev/v1alpha1
//   nodegroups (cluster-scoped). Discovery: /api, /api/v1, /apis, /apis/{g},
//   /apis/{g}/{v}; also /version, /healthz, /readyz, /livez.
// - Lists of built-in kinds omit kind/apiVersion on items (as the real server does);
//   CRD lists (keda.sh, ballast.dev) keep them. GET and watch objects always carry them.
// - A create (POST) of a pod gets status {phase: Pending} (not Ready): tests that need
//   running pods store them with put() / make_pod().
// - Eviction answers 201 with a Success Status; a PDB refusal is 429 with the message
//   "Cannot evict pod as it would violate the pod's disruption budget." and the PDB named
//   in details.causes[0].message; more than one PDB → 500 InternalError. Pending,
//   Succeeded and Failed pods skip the PDB check, as in the real registry.
// - LIST always serves the latest state (resourceVersion/resourceVersionMatch on LIST are
//   ignored); `limit`+`continue` pages come from a snapshot taken at the first page, so
//   pages are consistent; compact() expires all outstanding continue tokens (410 Expired).
// - Field selectors accept any dotted path of string/bool/number fields (the real server
//   allows only a per-resource list, e.g. spec.nodeName and status.phase for pods).
// - Strategic-merge patch is applied as a JSON merge patch (lists are replaced, not
//   merged by key). Server-side apply (application/apply-patch+yaml) accepts a JSON body
//   and applies it as a merge patch, creating the object if absent (no field ownership).
// - Resources with a status subresource ignore status on create/update of the main
//   resource and only change status through /status, as the real server does. put() from
//   the test side writes whatever it is given.
// - metadata.generation starts at 1 and is bumped when anything outside metadata and
//   status changes.
// - PDB status is recomputed synchronously whenever a pod or PDB of the namespace
//   changes: expectedPods = number of matching pods (no scale-subresource lookup of the
//   owning controller), currentHealthy = matching pods with condition Ready=True and no
//   deletionTimestamp, desiredHealthy from minAvailable/maxUnavailable (percentages
//   round up, as in the disruption controller), disruptionsAllowed = max(0,
//   currentHealthy - desiredHealthy), and 0 when expectedPods is 0 - so a PDB with
//   neither field set, or matching no pods, allows nothing (as the controller does).
//   status.disruptedPods is left empty; status.observedGeneration follows generation.
// - Deleting a pod (DELETE or eviction) removes it at once unless a pod deletion grace
//   is set (set_pod_deletion_grace); objects with finalizers get a deletionTimestamp and
//   stay until an update removes the last finalizer.
// - Garbage collection is background-style and immediate: when an object is deleted, its
//   dependents (ownerReferences naming its uid) whose other owners are all gone are
//   deleted too, transitively (propagationPolicy=Orphan turns that off for the request).
//   Objects whose owner never existed are left alone, so tests may fake ownerReferences.
// - PUT/PATCH with metadata.resourceVersion set must match (409 Conflict); without it
//   the write is unconditional. A write that changes nothing keeps the resourceVersion
//   and sends no watch event, as etcd-backed storage does. DELETE honours
//   preconditions.uid/resourceVersion, gracePeriodSeconds and propagationPolicy.
// - ?dryRun=All is honoured on every write (nothing stored, no event).
// - A watch with no timeoutSeconds streams until the client closes, drop_watches() or
//   stop(). With resourceVersion unset or "0" it starts with synthetic ADDED events for
//   the current objects; with resourceVersion=N it replays history after N. A requested
//   resourceVersion newer than the store's is accepted (the real server waits).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ballast::testing {

// One request as the fake received it, for assertions.
struct FakeApiRequest {
  std::string method;        // "GET", "POST", ...
  std::string path;          // "/api/v1/namespaces/default/pods/web-0/eviction"
  std::string query;         // raw query string without '?', "" when none
  std::string content_type;  // request Content-Type header
  std::string body;
  bool watch = false;        // true for ?watch=true|1 (and /watch/ paths)
};

// One entry of the resource table: how a REST resource maps to a Kind.
struct FakeResourceType {
  std::string group;     // "" for core
  std::string version;   // "v1", "v1alpha1"
  std::string resource;  // plural, lower case: "poddisruptionbudgets"
  std::string kind;      // "PodDisruptionBudget"
  bool namespaced = true;
  bool has_status = false;  // serves /status; main-resource writes leave status alone
};

struct FakeApiServerOptions {
  // How often a watch with allowWatchBookmarks=true gets a BOOKMARK.
  std::chrono::milliseconds bookmark_interval{1000};
  // Watch events kept for replay; older ones fall off and their RVs become "too old".
  size_t history_limit = 10000;
  // How an expired resourceVersion on watch is reported: false (the default, what a
  // real apiserver usually does) → 200 and an in-stream ERROR event with a 410 Status;
  // true → HTTP 410 before the stream starts.
  bool watch_expired_as_http_410 = false;
  // Pods deleted by DELETE or eviction: 0 → removed at once; > 0 → marked with a
  // deletionTimestamp (MODIFIED) and removed (DELETED) after this grace, as if the
  // kubelet had stopped them.
  std::chrono::milliseconds pod_deletion_grace{0};
};

class FakeApiServer {
 public:
  FakeApiServer();
  explicit FakeApiServer(FakeApiServerOptions options);
  ~FakeApiServer();  // stop()
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  // Binds 127.0.0.1:0 and starts serving. Throws std::runtime_error if the bind fails.
  void start();
  // Closes every connection (watches end abruptly) and joins all threads. Idempotent.
  void stop();
  uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"

  // ---- Test-side store access (acts as the user, the kubelet or a controller) ----

  // Creates or replaces the object named by apiVersion/kind/metadata.{namespace,name}.
  // Fills uid, creationTimestamp, generation, resourceVersion; keeps uid and
  // creationTimestamp of an existing object unless the given object sets them. An
  // unknown kind is registered on the fly (plural = lower-case kind + "s", namespaced
  // iff metadata.namespace is set). No resourceVersion check. Returns the object as
  // stored after the write's side effects (a PDB comes back with its status computed).
  // Throws std::invalid_argument without apiVersion, kind or metadata.name.
  nlohmann::json put(nlohmann::json object);
  // kind_or_resource: "Pod" or "pods". ns "" for cluster-scoped kinds.
  std::optional<nlohmann::json> get(std::string_view api_version, std::string_view kind_or_resource,
                                    std::string_view ns, std::string_view name) const;
  // All objects of a resource ("pods", "poddisruptionbudgets", "leases", or a Kind), in
  // key order; ns "" = every namespace. The resource name is looked up in all groups;
  // use "group/resource" ("events.k8s.io/events") to disambiguate.
  std::vector<nlohmann::json> list(std::string_view resource, std::string_view ns = "") const;
  // Applies an RFC 7386 merge patch; returns the new object or nullopt if absent.
  std::optional<nlohmann::json> patch_merge(std::string_view api_version, std::string_view kind_or_resource,
                                            std::string_view ns, std::string_view name,
                                            const nlohmann::json& patch);
  // Deletes at once (ignores finalizers and grace), then garbage-collects dependents.
  // Returns false if the object did not exist.
  bool remove(std::string_view api_version, std::string_view kind_or_resource, std::string_view ns,
              std::string_view name);
  // Sets (or replaces) the pod's Ready condition, as the kubelet would.
  bool set_pod_ready(std::string_view ns, std::string_view name, bool ready);
  // The store's current resourceVersion (as a decimal string, like the wire).
  std::string resource_version() const;
  // Adds or replaces a resource type in the table (e.g. a CRD not built in).
  void register_resource(FakeResourceType type);

  // ---- Fault injection ----

  // The next `count` requests whose method equals `method` ("" or "*" = any) and whose
  // path starts with `path_prefix` fail with a Status error of `status` (reason derived
  // from the code: 409 Conflict, 410 Expired, 429 TooManyRequests, 500 InternalError,
  // 503 ServiceUnavailable, ...). Applies to watch requests too (before the stream).
  // Rules are checked in the order they were added. With `retry_after_seconds` the answer
  // carries `Retry-After`, as the apiserver's max-in-flight and priority-and-fairness
  // filters send with their 429s.
  void fail_next(std::string method, std::string path_prefix, int status, int count = 1,
                 std::optional<int> retry_after_seconds = std::nullopt);
  // The same for the next `count` LISTs (GETs that are not watches) under `path_prefix`:
  // a relist fails while watches on the same path go through.
  void fail_next_list(std::string path_prefix, int status, int count = 1);
  // Drops every failure fail_next()/fail_next_list() still holds: the apiserver recovers.
  void clear_failures();
  // Delay before answering each request (and before a watch starts streaming).
  void set_latency(std::chrono::milliseconds latency);
  // Closes every open watch stream abruptly (no terminating chunk), as a restarting
  // apiserver or a broken proxy would. Returns after the streams are closed.
  void drop_watches();
  // Each open watch stream sends only the first half of its next event line, then its
  // connection closes abruptly (a proxy or apiserver dying mid-write).
  void cut_watches_mid_event();
  // From now on every request must carry `Authorization: Bearer <token>`; any other gets
  // 401 Unauthorized (counted by unauthorized()). Open watches keep streaming, as on the
  // real apiserver, which checks a token when a request starts. "" turns the check off.
  void require_bearer_token(std::string token);
  size_t unauthorized() const;
  // Forgets watch history and outstanding continue tokens: any resourceVersion older
  // than the current one now gets 410 Expired on watch, every issued continue token too.
  void compact();
  // Discovery and every request under /apis/<group>/ answer 404, as when the CRDs of an
  // operator (e.g. keda.sh) are not installed.
  void set_group_absent(std::string group, bool absent = true);
  void set_watch_expired_as_http_410(bool enabled);
  void set_bookmark_interval(std::chrono::milliseconds interval);
  void set_pod_deletion_grace(std::chrono::milliseconds grace);

  // ---- Observation ----

  std::vector<FakeApiRequest> requests() const;
  void clear_requests();
  // Requests with this method ("" = any) whose path starts with path_prefix.
  size_t count_requests(std::string_view method, std::string_view path_prefix) const;
  // Watch streams currently open; with a path prefix, only those on matching paths.
  size_t open_watches(std::string_view path_prefix = "") const;
  // Polls `predicate` (every 5 ms) until it is true or `timeout` passes.
  static bool wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);
  // Shorthand: waits until open_watches(path_prefix) >= n.
  bool wait_for_watches(size_t n, std::chrono::milliseconds timeout, std::string_view path_prefix = "") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- Small object builders for tests (plain JSON, nothing stored) ----

// A pod in `ns` with labels, bound to node_name ("" = unscheduled, phase Pending),
// phase Running and condition Ready=<ready> when bound.
nlohmann::json make_pod(std::string_view ns, std::string_view name, const std::map<std::string, std::string>& labels,
                        std::string_view node_name = "", bool ready = true);
// A policy/v1 PDB selecting matchLabels; min_available/max_unavailable are int or
// percent strings ("50%"), pass a null json to leave one unset.
nlohmann::json make_pdb(std::string_view ns, std::string_view name, const std::map<std::string, std::string>& match_labels,
                        const nlohmann::json& min_available, const nlohmann::json& max_unavailable = nullptr);
// A Ready node with the given labels and allocatable cpu/memory.
nlohmann::json make_node(std::string_view name, const std::map<std::string, std::string>& labels = {},
                         std::string_view cpu = "2", std::string_view memory = "4Gi");

}  // namespace ballast::testing
