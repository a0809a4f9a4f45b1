#include "nodepool/alert_requests.h"

#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/nesting.h"

namespace ballast::nodepool {
namespace {

using nlohmann::json;

// A string member of `object`, or empty when absent; an error naming the key otherwise.
Result<std::string> optional_string(const json& object, const char* key, const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return invalid_argument(path + "." + key + ": must be a string");
  return it->get<std::string>();
}

Result<std::optional<AlertRequest>> parse_alert(const json& alert, const std::string& path) {
  if (!alert.is_object()) return invalid_argument(path + ": must be an object");
  auto status = optional_string(alert, "status", path);
  if (!status) return status.error();
  if (*status != "firing" && *status != "resolved") {
    return invalid_argument(path + ".status: \"" + *status + "\" is not firing or resolved");
  }
  const auto labels = alert.find("labels");
  if (labels == alert.end() || !labels->is_object()) return invalid_argument(path + ".labels: must be an object");
  for (const auto& [name, value] : labels->items()) {
    if (!value.is_string()) return invalid_argument(path + ".labels." + name + ": must be a string");
  }
  const std::string group = labels->value(kAlertGroupLabel, "");
  const std::string action = labels->value(kAlertActionLabel, "");
  if (group.empty() && action.empty()) return std::optional<AlertRequest>();
  if (group.empty()) return invalid_argument(path + ".labels." + kAlertGroupLabel + ": required with " + kAlertActionLabel);
  if (action != "scale_up" && action != "scale_down") {
    return invalid_argument(path + ".labels." + kAlertActionLabel + ": \"" + action + "\" is not scale_up or scale_down");
  }
  if (*status != "firing") return std::optional<AlertRequest>();
  AlertRequest request;
  request.group = group;
  request.direction = action == "scale_up" ? ScaleDirection::kUp : ScaleDirection::kDown;
  request.alert = labels->value("alertname", "");
  auto fingerprint = optional_string(alert, "fingerprint", path);
  if (!fingerprint) return fingerprint.error();
  auto starts_at = optional_string(alert, "startsAt", path);
  if (!starts_at) return starts_at.error();
  if (fingerprint->empty()) return invalid_argument(path + ".fingerprint: required");
  if (starts_at->empty()) return invalid_argument(path + ".startsAt: required");
  request.fingerprint = *fingerprint;
  request.starts_at = *starts_at;
  return std::optional<AlertRequest>(std::move(request));
}

}  // namespace

std::string AlertRequest::source() const {
  return "alert " + (alert.empty() ? std::string("<no alertname>") : alert) + " (fingerprint " + fingerprint +
         ", since " + starts_at + ")";
}

Result<std::vector<AlertRequest>> parse_alert_payload(std::string_view body) {
  if (auto nesting = check_json_nesting(body, "alert payload"); !nesting) return nesting.error();
  const json payload = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded()) return invalid_argument("alert payload: not JSON");
  if (!payload.is_object()) return invalid_argument("alert payload: must be a JSON object");
  auto version = optional_string(payload, "version", "payload");
  if (!version) return version.error();
  if (*version != "4") return invalid_argument("version: \"" + *version + "\" is not 4 (Alertmanager's webhook payload)");
  const auto alerts = payload.find("alerts");
  if (alerts == payload.end() || !alerts->is_array()) return invalid_argument("alerts: must be an array");
  std::vector<AlertRequest> requests;
  for (size_t i = 0; i < alerts->size(); ++i) {
    auto request = parse_alert((*alerts)[i], "alerts[" + std::to_string(i) + "]");
    if (!request) return request.error();
    if (*request) requests.push_back(std::move(**request));
  }
  return requests;
}

size_t AlertRequestQueue::add(const std::vector<AlertRequest>& requests) {
  std::lock_guard lock(mutex_);
  size_t added = 0;
  for (const auto& request : requests) {
    std::string key = request.fingerprint + "|" + request.starts_at;
    if (!seen_.insert(key).second) continue;
    seen_order_.push_back(std::move(key));
    if (seen_order_.size() > kRemembered) {
      seen_.erase(seen_order_.front());
      seen_order_.pop_front();
    }
    pending_[request.group].push_back({request.direction, request.source()});
    ++added;
  }
  return added;
}

std::map<std::string, std::vector<ScaleRequest>> AlertRequestQueue::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(pending_, {});
}

}  // namespace ballast::nodepool
