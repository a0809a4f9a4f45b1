#include "kube/event_recorder.h"

#include <random>

#include "core/timestamp.h"
#include "kube/model/json_lookup.h"
#include "kube/model/object_meta.h"

namespace ballast::kube {
namespace {

using nlohmann::json;

// Remembered Events; past this the oldest-keyed half is forgotten (a repeat then makes a
// new Event, which is harmless).
constexpr size_t kMaxRemembered = 4096;


std::string random_suffix() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(generator()));
  return text;
}

}  // namespace

EventRecorder::EventRecorder(KubeApi& api, std::string reporting_instance)
    : api_(api), reporting_instance_(std::move(reporting_instance)), log_("events") {}

void EventRecorder::normal(const json& object, const std::string& reason, const std::string& message) {
  record(object, "Normal", reason, message);
}

void EventRecorder::warning(const json& object, const std::string& reason, const std::string& message) {
  record(object, "Warning", reason, message);
}

void EventRecorder::record(const json& object, const char* type, const std::string& reason,
                           const std::string& message) {
  const std::string name = kube::name(object);
  const std::string object_ns = kube::namespace_of(object);
  const std::string ns = object_ns.empty() ? "default" : object_ns;
  const std::string now = format_time(std::chrono::system_clock::now());
  const std::string key = kube::uid(object) + "|" + ns + "/" + name + "|" + reason + "|" + message;

  std::unique_lock lock(mutex_);
  if (auto it = recorded_.find(key); it != recorded_.end()) {
    const Recorded repeat{it->second.ns, it->second.name, ++it->second.count};
    lock.unlock();
    auto patched = api_.patch(events(), repeat.ns, repeat.name, PatchType::kMerge,
                              {{"count", repeat.count}, {"lastTimestamp", now}});
    if (patched) return;
    lock.lock();
    recorded_.erase(key);  // the Event expired or was deleted: write a new one
  }
  if (recorded_.size() >= kMaxRemembered) recorded_.erase(recorded_.begin(), std::next(recorded_.begin(), kMaxRemembered / 2));
  const std::string event_name = (name.empty() ? "ballast" : name) + "." + random_suffix();
  recorded_[key] = Recorded{ns, event_name, 1};
  lock.unlock();

  json event = {{"apiVersion", "v1"},
                {"kind", "Event"},
                {"metadata", {{"name", event_name}, {"namespace", ns}}},
                {"involvedObject",
                 {{"apiVersion", string_at(object, {"apiVersion"})},
                  {"kind", string_at(object, {"kind"})},
                  {"name", name},
                  {"namespace", object_ns},
                  {"uid", kube::uid(object)},
                  {"resourceVersion", kube::resource_version(object)}}},
                {"reason", reason},
                {"message", message},
                {"type", type},
                {"count", 1},
                {"firstTimestamp", now},
                {"lastTimestamp", now},
                {"source", {{"component", "ballast"}}},
                {"reportingComponent", "ballast.dev/ballast"},
                {"reportingInstance", reporting_instance_}};
  if (auto created = api_.create(events(), ns, event); !created) {
    log_.warn("cannot write an Event", {{"object", ns + "/" + name}, {"reason", reason}, {"error", created.error().message}});
  }
}

}  // namespace ballast::kube
