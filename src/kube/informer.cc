#include "kube/informer.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <string_view>

#include "core/thread_name.h"
#include "kube/model/object_meta.h"

namespace ballast::kube {
namespace {

using nlohmann::json;

// Where the cache keeps an object: namespace/name ("/name" for cluster-scoped objects).
std::string object_key(const json& object) { return namespace_of(object) + "/" + name(object); }

using FieldSet = std::set<std::string, std::less<>>;

bool is_core(const Resource& resource, std::string_view plural) {
  return resource.group.empty() && resource.plural == plural;
}

// Erases every member of `object` not in `kept`.
void keep_only(json& object, const FieldSet& kept) {
  if (!object.is_object()) return;
  for (auto field = object.begin(); field != object.end();) {
    field = kept.contains(field.key()) ? std::next(field) : object.erase(field);
  }
}

// Pods are most of a cluster's objects, and nlohmann's JSON costs about seven times their
// text in memory (12 KB for a 1.6 KB pod), so the cache keeps of a pod only what its readers
// read: the node pool (src/nodepool/cluster_model.cc) reads the name, namespace, labels,
// annotations, owners and deletionTimestamp, these spec fields, each container's name,
// requests and restartPolicy, each volume's name and kind (and a claim's or emptyDir's
// details), status.phase and the PodScheduled condition; the guard reads the labels,
// deletionTimestamp and status.phase. A reader of another pod field must add it here.
// Nothing writes a pod back from this cache (evictions name the pod only), and the
// admission webhook reads whole pods from its reviews, not from here.
void drop_unread_pod_fields(json& pod) {
  static const FieldSet kSpecRead = {"nodeName", "priority", "nodeSelector", "affinity", "tolerations",
                                     "topologySpreadConstraints", "volumes", "containers", "initContainers",
                                     "overhead"};
  static const FieldSet kContainerRead = {"name", "resources", "restartPolicy"};
  // A volume's kind is read from which source key it has; these sources' contents are not.
  static const FieldSet kSourcesReadByKindOnly = {"projected", "configMap", "secret", "downwardAPI"};
  if (auto spec = pod.find("spec"); spec != pod.end() && spec->is_object()) {
    keep_only(*spec, kSpecRead);
    for (const char* list : {"containers", "initContainers"}) {
      if (auto containers = spec->find(list); containers != spec->end() && containers->is_array()) {
        for (auto& container : *containers) keep_only(container, kContainerRead);
      }
    }
    if (auto volumes = spec->find("volumes"); volumes != spec->end() && volumes->is_array()) {
      for (auto& volume : *volumes) {
        if (!volume.is_object()) continue;
        for (auto source = volume.begin(); source != volume.end(); ++source) {
          if (kSourcesReadByKindOnly.contains(source.key())) *source = json::object();
        }
      }
    }
  }
  if (auto status = pod.find("status"); status != pod.end() && status->is_object()) {
    keep_only(*status, {"phase", "conditions"});
    // A running pod has five conditions; only PodScheduled (Unschedulable) is read.
    if (auto conditions = status->find("conditions"); conditions != status->end() && conditions->is_array()) {
      auto& list = conditions->get_ref<json::array_t&>();
      std::erase_if(list, [](const json& condition) {
        return !condition.is_object() || condition.value("type", json()) != "PodScheduled";
      });
    }
  }
  if (auto metadata = pod.find("metadata"); metadata != pod.end()) {
    keep_only(*metadata, {"name", "namespace", "labels", "annotations", "ownerReferences", "deletionTimestamp"});
  }
}

// No reconciler reads managedFields, and they are often a third or more of an object's JSON,
// so the cache drops them, as kube-scheduler's informers do, and the parts of pods no reader
// uses. Writes stay safe: an update without managedFields keeps the server's.
void drop_unread_fields(const Resource& resource, json& object) {
  if (auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
    metadata->erase("managedFields");
  }
  if (is_core(resource, "pods")) drop_unread_pod_fields(object);
  // A node lists up to 50 of its images with every name and digest; nothing here reads them.
  if (auto status = object.find("status"); is_core(resource, "nodes") && status != object.end() && status->is_object()) {
    status->erase("images");
  }
}

// What the cache holds of an object: a pod as its JSON text (kube::expanded), the rest parsed.
ObjectRef cached_form(const Resource& resource, json object) {
  if (is_core(resource, "pods")) {
    std::string text = object.dump();
    // dump() grows its string by doubling, so up to half of it would be spare capacity kept
    // for the pod's life (1,503 → 895 bytes a cached pod, mallinfo2 over 30,000).
    text.shrink_to_fit();
    return std::make_shared<const json>(std::move(text));
  }
  return std::make_shared<const json>(std::move(object));
}

// Puts an object from a list or a watch event into `cache`, keyed by namespace/name.
void store(const Resource& resource, std::map<std::string, ObjectRef>& cache, json object) {
  drop_unread_fields(resource, object);
  // The key first: the assignment's right side, evaluated first, moves the object away.
  std::string key = object_key(object);
  cache[std::move(key)] = cached_form(resource, std::move(object));
}

}  // namespace

Informer::Informer(KubeApi& api, Resource resource, Options options, Handler on_change)
    : api_(api), resource_(std::move(resource)), options_(std::move(options)), log_("kube") {
  if (on_change) add_handler(std::move(on_change));
}

Informer::~Informer() { stop(); }

void Informer::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { name_this_thread("inf-" + resource_.plural); run(); });
}

void Informer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Informer::HandlerId Informer::add_handler(Handler handler) {
  std::lock_guard lock(handlers_mutex_);
  const HandlerId id = next_handler_id_++;
  handlers_.emplace(id, std::move(handler));
  return id;
}

void Informer::remove_handler(HandlerId id) {
  std::lock_guard lock(handlers_mutex_);
  handlers_.erase(id);
}

void Informer::notify_handlers() {
  std::lock_guard lock(handlers_mutex_);
  for (const auto& [id, handler] : handlers_) handler();
}

bool Informer::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

SharedObjects Informer::objects() const {
  std::lock_guard lock(mutex_);
  std::vector<ObjectRef> snapshot;
  snapshot.reserve(objects_.size());
  for (const auto& [key, object] : objects_) snapshot.push_back(object);
  return SharedObjects(std::move(snapshot));
}

uint64_t Informer::list_count() const {
  std::lock_guard lock(mutex_);
  return list_count_;
}

void Informer::wait_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, delay, [this] { return stopping_; });
}

bool Informer::relist() {
  // Each item goes into the new cache in its cached form as its page arrives, so no whole
  // list of parsed objects is ever held, and the long-lived texts are not allocated among
  // 150 MB of short-lived parsed pods that would leave the heap fragmented once freed.
  std::map<std::string, ObjectRef> listed;
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  auto list = api_.list(resource_, options_.ns, list_options,
                        [this, &listed](json&& object) { store(resource_, listed, std::move(object)); });
  if (!list) {
    log_.warn("list failed", {{"resource", resource_.plural}, {"error", list.error().message}});
    return false;
  }
  {
    std::lock_guard lock(mutex_);
    objects_.swap(listed);
    resource_version_ = std::move(*list);
    synced_ = true;
    ++list_count_;
  }
  notify_handlers();
  return true;
}

void Informer::apply(WatchEvent event) {
  if (log_.enabled(LogLevel::kDebug)) {
    log_.debug("watch event", {{"resource", resource_.plural}, {"type", event.type},
                               {"object", object_key(event.object)}, {"resourceVersion", resource_version(event.object)}});
  }
  bool changed = true;
  {
    std::lock_guard lock(mutex_);
    ++watch_events_;
    if (const std::string version = resource_version(event.object); !version.empty()) resource_version_ = version;
    if (event.type == "BOOKMARK") {
      changed = false;
    } else if (event.type == "DELETED") {
      objects_.erase(object_key(event.object));
    } else {
      event.object["kind"] = resource_.kind;
      event.object["apiVersion"] = resource_.api_version();
      store(resource_, objects_, std::move(event.object));
    }
  }
  if (changed) notify_handlers();
}

void Informer::run() {
  auto backoff = options_.retry_backoff;
  const auto next_backoff = [&backoff] { backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30)); };
  bool need_list = true;
  auto resync_at = std::chrono::steady_clock::now() + options_.resync;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (need_list) {
      if (!relist()) {
        wait_for(backoff);
        next_backoff();
        continue;
      }
      need_list = false;
      backoff = options_.retry_backoff;
      resync_at = std::chrono::steady_clock::now() + options_.resync;
    }

    WatchOptions watch_options;
    watch_options.label_selector = options_.label_selector;
    watch_options.timeout = options_.watch_timeout;
    uint64_t events_before = 0;
    {
      std::lock_guard lock(mutex_);
      watch_options.resource_version = resource_version_;
      watch_done_ = false;
      events_before = watch_events_;
    }
    auto handle = api_.watch(
        resource_, options_.ns, watch_options, [this](WatchEvent event) { apply(std::move(event)); },
        [this](Status status) {
          {
            std::lock_guard lock(mutex_);
            watch_status_ = std::move(status);
            watch_done_ = true;
          }
          wake_.notify_all();
        });
    bool resync_due = false;
    {
      std::unique_lock lock(mutex_);
      const auto ended = [this] { return stopping_ || watch_done_; };
      if (options_.resync.count() > 0) {
        resync_due = !wake_.wait_until(lock, resync_at, ended);
      } else {
        wake_.wait(lock, ended);
      }
    }
    // The watch's end callback touches this informer: wait for it before going on.
    handle->cancel();
    Status status = Ok{};
    bool delivered = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return watch_done_; });
      if (stopping_) return;
      status = watch_status_;
      delivered = watch_events_ > events_before;
    }
    if (delivered) backoff = options_.retry_backoff;
    if (resync_due) {
      need_list = true;
    } else if (status.ok()) {
      backoff = options_.retry_backoff;  // the server ended the watch on time: resume
    } else if (status.error().code == ErrorCode::kExpired) {
      log_.info("watch expired, relisting", {{"resource", resource_.plural}});
      need_list = true;
    } else {
      log_.warn("watch failed, resuming", {{"resource", resource_.plural}, {"error", status.error().message}});
      wait_for(backoff);
      next_backoff();
    }
  }
}

}  // namespace ballast::kube
