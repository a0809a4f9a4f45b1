#pragma once

#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "kube/kube_api.h"

namespace ballast::kube {

// Writes core/v1 Events about objects, as `kubectl describe` shows them. A repeat of the
// same (object, reason, message) bumps the count of the existing Event instead of
// creating another, like client-go's correlator. Events about cluster-scoped objects go to
// the `default` namespace. Failures are logged, never returned: an Event is best effort.
// Thread-safe; blocking (reconciler threads only).
class EventRecorder {
 public:
  EventRecorder(KubeApi& api, std::string reporting_instance);

  void normal(const nlohmann::json& object, const std::string& reason, const std::string& message);
  void warning(const nlohmann::json& object, const std::string& reason, const std::string& message);

 private:
  void record(const nlohmann::json& object, const char* type, const std::string& reason, const std::string& message);

  KubeApi& api_;
  const std::string reporting_instance_;
  Logger log_;
  std::mutex mutex_;  // guards recorded_
  struct Recorded {
    std::string ns;
    std::string name;
    int count = 1;
  };
  std::map<std::string, Recorded> recorded_;  // uid|reason|message → the Event written
};

}  // namespace ballast::kube
