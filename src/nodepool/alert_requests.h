#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "nodepool/node_group.h"

namespace ballast::nodepool {

// Labels an alert carries to ask a NodeGroup for one node more or one fewer.
inline constexpr const char* kAlertGroupLabel = "ballast_nodegroup";
inline constexpr const char* kAlertActionLabel = "ballast_action";  // scale_up | scale_down

// One firing alert of an Alertmanager webhook that asks a group for a node.
struct AlertRequest {
  std::string group;
  ScaleDirection direction = ScaleDirection::kUp;
  std::string alert;        // labels.alertname
  std::string fingerprint;  // Alertmanager's id of the alert's label set
  std::string starts_at;    // as sent: with the fingerprint, one firing of the alert

  std::string source() const;  // `alert ClusterCapacityHigh (fingerprint 3f2a..., since ...)`
};

// Alertmanager's webhook payload (version "4") → the firing alerts that carry both ballast
// labels; resolved alerts and alerts without the labels are ignored. Errors name the key:
// `alerts[2].labels.ballast_action: "up" is not scale_up or scale_down`.
Result<std::vector<AlertRequest>> parse_alert_payload(std::string_view body);

// Requests received on the admin port, waiting for the reconciler's next pass. Alertmanager
// re-sends a firing alert every repeat_interval: a request is kept once per fingerprint and
// startsAt (the last kRemembered of them), so a re-send never asks for a second node.
// Thread-safe: the admin server adds, the reconciler takes.
class AlertRequestQueue {
 public:
  static constexpr size_t kRemembered = 4096;

  // Records the requests not seen before; returns how many were new.
  size_t add(const std::vector<AlertRequest>& requests);
  // Every request recorded since the last take, by group.
  std::map<std::string, std::vector<ScaleRequest>> take();

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<ScaleRequest>> pending_;
  std::set<std::string> seen_;
  std::deque<std::string> seen_order_;  // oldest first, to forget beyond kRemembered
};

}  // namespace ballast::nodepool
