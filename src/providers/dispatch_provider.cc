#include "providers/dispatch_provider.h"

#include <chrono>

#include <nlohmann/json.hpp>

namespace ballast::providers {

using nlohmann::json;
using nodepool::CreateRequest;
using nodepool::ProviderInstance;

std::string dispatch_payload(const std::string& event_type, DispatchDirection direction, const std::string& group,
                             int desired, const std::vector<std::string>& remove, const std::string& reason,
                             const std::string& request_id) {
  json payload = {{"nodegroup", group},
                  {"direction", direction == DispatchDirection::kUp ? "up" : "down"},
                  {"desired", desired},
                  {"remove", remove},
                  {"reason", reason},
                  {"requestId", request_id}};
  return json{{"event_type", event_type}, {"client_payload", std::move(payload)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

Result<std::unique_ptr<DispatchProvider>> DispatchProvider::make(DispatchSettings settings,
                                                                 const ProviderContext& context) {
  if (!context.clock || !context.transport) return invalid_argument("dispatch: clock and transport are required");
  auto url = net::parse_url(settings.url);
  if (!url.ok()) return invalid_argument("dispatch url: " + url.error().message);
  // GitHub's limit for repository_dispatch's event_type.
  if (settings.event_type.empty() || settings.event_type.size() > 100) {
    return invalid_argument("dispatch eventType must be 1-100 characters");
  }
  if (settings.scale_down_event_type.size() > 100) {
    return invalid_argument("dispatch scaleDownEventType must be at most 100 characters");
  }
  auto token = resolve_secret(settings.token, settings.token_file, "dispatch token");
  if (!token.ok()) return token.error();
  return std::unique_ptr<DispatchProvider>(new DispatchProvider(std::move(settings), std::move(*token), context));
}

DispatchProvider::DispatchProvider(DispatchSettings settings, std::string token, const ProviderContext& context)
    : settings_(std::move(settings)),
      token_(std::move(token)),
      wall_now_(context.wall_now),
      http_("dispatch", context) {}

Status DispatchProvider::post(DispatchDirection direction, const std::string& group, int desired,
                              const std::vector<std::string>& remove, const std::string& reason,
                              const std::string& request_id) {
  const std::string& event_type = direction == DispatchDirection::kDown && !settings_.scale_down_event_type.empty()
                                      ? settings_.scale_down_event_type
                                      : settings_.event_type;
  net::HttpClientRequest request;
  request.method = "POST";
  request.url = settings_.url;
  request.tls = settings_.tls;
  request.headers = {{"Authorization", "Bearer " + token_},
                     {"Accept", "application/vnd.github+json"},
                     {"Content-Type", "application/json"},
                     {"User-Agent", "ballast"}};
  request.body = dispatch_payload(event_type, direction, group, desired, remove, reason, request_id);
  auto response = http_.send(std::move(request));
  if (!response.ok()) return response.error();
  if (!is_success(response->status)) return status_error("dispatch", "POST " + settings_.url, *response);
  log_.info("dispatched", {{"nodegroup", group}, {"eventType", event_type}, {"desired", desired}, {"remove", static_cast<int64_t>(remove.size())},
                           {"requestId", request_id}});
  return Ok{};
}

Result<ProviderInstance> DispatchProvider::create(const CreateRequest& request) {
  if (request.group.empty() || request.name.empty()) return invalid_argument("dispatch create: group and name required");
  {
    std::lock_guard lock(mutex_);
    const auto it = requested_.find(request.name);
    if (it != requested_.end()) return it->second;
  }
  const std::string request_id = request.request_id.empty() ? make_uuid() : request.request_id;
  auto sent = post(DispatchDirection::kUp, request.group, request.desired_size, {}, "scale-up: " + request.name,
                   request_id);
  if (!sent.ok()) return sent.error();
  ProviderInstance instance{request.name, request.name, request.group, request.offering, "creating", wall_now_()};
  std::lock_guard lock(mutex_);
  requested_[request.name] = instance;
  return instance;
}

Status DispatchProvider::remove(const ProviderInstance& instance, int desired_size) {
  const std::string name = instance.name.empty() ? instance.id : instance.name;
  if (name.empty() || instance.group.empty()) return invalid_argument("dispatch remove: name and group required");
  auto sent = post(DispatchDirection::kDown, instance.group, desired_size, {name}, "scale-down: " + name, make_uuid());
  if (!sent.ok()) return sent;
  std::lock_guard lock(mutex_);
  requested_.erase(name);
  return Ok{};
}

Result<std::vector<ProviderInstance>> DispatchProvider::list(const std::string& group) {
  std::lock_guard lock(mutex_);
  std::vector<ProviderInstance> out;
  for (const auto& [name, instance] : requested_) {
    if (instance.group == group) out.push_back(instance);
  }
  return out;
}

Result<ProviderInstance> DispatchProvider::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = requested_.find(id);
  if (it == requested_.end()) return Error{ErrorCode::kNotFound, "dispatch: no request recorded for " + id};
  return it->second;
}

}  // namespace ballast::providers
