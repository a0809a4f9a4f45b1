#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "core/recent_set.h"
#include "kube/event_recorder.h"

namespace ballast::kube {

// Events a reconciler reports once per key (a note, a conflict, a dry-run action), so a
// steady state emits nothing. The keys come from cluster state, so they are remembered in
// a bounded RecentSet: past `capacity` the least recently seen is forgotten, and if it
// comes back it is reported once more (EventRecorder then bumps the count of the Event it
// already wrote). Owned by a reconciler and used by its worker thread only.
class ReportOnce {
 public:
  static constexpr size_t kDefaultCapacity = 4096;

  explicit ReportOnce(EventRecorder& events, size_t capacity = kDefaultCapacity)
      : events_(events), seen_(capacity) {}

  void report(const std::string& key, const nlohmann::json& object, bool warning, const std::string& reason,
              const std::string& message) {
    if (!seen_.insert(key)) return;
    warning ? events_.warning(object, reason, message) : events_.normal(object, reason, message);
  }
  bool reported(const std::string& key) const { return seen_.contains(key); }

 private:
  EventRecorder& events_;
  RecentSet seen_;
};

}  // namespace ballast::kube
