#include "providers/contabo_provider.h"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "core/nesting.h"

namespace ballast::providers {

using nlohmann::json;
using nodepool::CreateRequest;
using nodepool::ProviderInstance;

struct ContaboProvider::Record {
  std::string id;
  std::string display_name;
  std::string product_id;
  std::string status;
  std::string cancel_date;
  std::optional<TimePoint> created_at;
  // Set for parked instances.
  std::optional<std::string> parked_group;
  TimePoint parked_at{};
};

namespace {

constexpr const char* kInstances = "/v1/compute/instances";
constexpr const char* kParkedPrefix = "ballast-parked.";
// The latest parking time (Unix seconds, year 2255) a name is read with: TimePoint counts
// nanoseconds in 64 bits and ends in 2262, so a larger number would overflow it.
constexpr int64_t kMaxParkedSeconds = 9'000'000'000;
// A token lifetime past a year is not one: `expires_in` is clamped to it (and to 0 below),
// so the expiry stays a representable time.
constexpr int64_t kMaxTokenSeconds = 365 * 24 * 3600;

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::string map_state(const std::string& status) {
  if (status == "running") return "running";
  if (status == "stopped") return "stopped";
  if (status == "error" || status == "product_not_available") return "error";
  if (status == "unknown" || status == "other" || status.empty()) return "unknown";
  // provisioning, installing, uninstalled, manual_provisioning, verification_required,
  // pending_payment, reset_password, rescue: not a node yet; the provision timeout bounds it.
  return "creating";
}

ContaboProvider::Record to_record(const json& item) {
  ContaboProvider::Record record;
  record.id = text_field(item, "instanceId");
  record.display_name = text_field(item, "displayName");
  record.product_id = text_field(item, "productId");
  record.status = text_field(item, "status");
  record.cancel_date = text_field(item, "cancelDate");
  if (auto created = parse_time(text_field(item, "createdDate")); created.ok()) record.created_at = *created;
  if (starts_with(record.display_name, kParkedPrefix)) {
    const std::string rest = record.display_name.substr(std::string(kParkedPrefix).size());
    const auto dot = rest.rfind('.');
    int64_t seconds = 0;
    if (dot != std::string::npos && dot > 0) {
      const char* first = rest.data() + dot + 1;
      const char* last = rest.data() + rest.size();
      const auto [end, ec] = std::from_chars(first, last, seconds);
      if (ec == std::errc{} && end == last && seconds >= 0 && seconds <= kMaxParkedSeconds) {
        record.parked_group = rest.substr(0, dot);
        record.parked_at = TimePoint(std::chrono::seconds(seconds));
      }
    }
  }
  return record;
}

std::string group_of(const ContaboProvider::Record& record) {
  if (record.parked_group) return *record.parked_group;
  const auto dash = record.display_name.rfind('-');
  return dash == std::string::npos ? std::string() : record.display_name.substr(0, dash);
}

ProviderInstance to_instance(const ContaboProvider::Record& record, const std::string& group) {
  return ProviderInstance{record.id,
                          record.display_name,
                          group,
                          record.product_id,
                          record.parked_group ? "stopped" : map_state(record.status),
                          record.created_at};
}

Result<json> parse_data(const std::string& what, int status, const std::string& body) {
  if (!is_success(status)) {
    net::HttpClientResponse response;
    response.status = status;
    response.body = body;
    return status_error("contabo", what, response);
  }
  json parsed = parse_bounded_json<json>(body);
  if (!parsed.is_object() || !parsed.contains("data") || !parsed["data"].is_array()) {
    return Error{ErrorCode::kIo, "contabo " + what + ": answer has no data array"};
  }
  return parsed;
}

std::string dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string ContaboProvider::parked_name(const std::string& group, TimePoint parked_at) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(parked_at.time_since_epoch()).count();
  return std::string(kParkedPrefix) + group + "." + std::to_string(seconds);
}

Result<std::unique_ptr<ContaboProvider>> ContaboProvider::make(ContaboSettings settings,
                                                               const ProviderContext& context) {
  if (!context.clock || !context.transport) return invalid_argument("contabo: clock and transport are required");
  auto api_url = api_base_url(settings.api_url, "contabo apiURL");
  if (!api_url) return api_url.error();
  settings.api_url = std::move(*api_url);
  if (auto url = net::parse_url(settings.auth_url); !url.ok()) {
    return invalid_argument("contabo authURL: " + url.error().message);
  }
  if (settings.client_id.empty() || settings.client_secret.empty() || settings.username.empty() ||
      settings.password.empty()) {
    return invalid_argument("contabo credentials: need clientId, clientSecret, username and password");
  }
  if (settings.period != 1 && settings.period != 3 && settings.period != 6 && settings.period != 12) {
    return invalid_argument("contabo period must be 1, 3, 6 or 12");
  }
  return std::unique_ptr<ContaboProvider>(new ContaboProvider(std::move(settings), context));
}

ContaboProvider::ContaboProvider(ContaboSettings settings, const ProviderContext& context)
    : settings_(std::move(settings)),
      wall_now_(context.wall_now),
      http_("contabo", context),
      bearer_(context.wall_now, std::chrono::seconds(30), [this](TimePoint now) { return login(now); }) {}

Result<TokenCache::Token> ContaboProvider::login(TimePoint now) {
  net::HttpClientRequest request;
  request.method = "POST";
  request.url = settings_.auth_url;
  request.tls = settings_.tls;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  request.body = form_encode({{"grant_type", "password"},
                              {"client_id", settings_.client_id},
                              {"client_secret", settings_.client_secret},
                              {"username", settings_.username},
                              {"password", settings_.password}});
  auto response = http_.send(std::move(request));
  if (!response.ok()) return response.error();
  if (!is_success(response->status)) {
    // Keycloak's error body names the problem, never the secret.
    return status_error("contabo", "token", *response);
  }
  json parsed = parse_bounded_json<json>(response->body);
  if (!parsed.is_object() || text_field(parsed, "access_token").empty()) {
    return Error{ErrorCode::kIo, "contabo token: answer has no access_token"};
  }
  int64_t expires_in = 300;  // expires_in is standard but not in Contabo's spec
  if (parsed.contains("expires_in") && parsed["expires_in"].is_number_integer()) {
    expires_in = std::clamp<int64_t>(parsed["expires_in"].get<int64_t>(), 0, kMaxTokenSeconds);
  }
  log_.debug("token obtained", {{"expiresInSeconds", expires_in}});
  return TokenCache::Token{text_field(parsed, "access_token"), now + std::chrono::seconds(expires_in)};
}

Result<ContaboProvider::Answer> ContaboProvider::call(const std::string& method, const std::string& path,
                                                       const std::string& body, const std::string& request_id,
                                                       Resend resend) {
  for (int attempt = 0;; ++attempt) {
    auto bearer = bearer_.get(attempt > 0);
    if (!bearer.ok()) return bearer.error();
    net::HttpClientRequest request;
    request.method = method;
    request.url = settings_.api_url + path;
    request.tls = settings_.tls;
    request.headers = {{"Authorization", "Bearer " + *bearer},
                       {"x-request-id", request_id.empty() || attempt > 0 ? make_uuid() : request_id},
                       {"Accept", "application/json"}};
    if (!body.empty()) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = body;
    }
    auto response = http_.send(std::move(request), resend);
    if (!response.ok()) return response.error();
    if (response->status == 401 && attempt == 0) continue;  // expired early: log in again once
    return Answer{response->status, std::move(response->body)};
  }
}

Result<std::vector<ContaboProvider::Record>> ContaboProvider::list_records() {
  std::vector<Record> out;
  constexpr int kMaxPages = 50;
  for (int page = 1; page <= kMaxPages; ++page) {
    auto answer = call("GET", std::string(kInstances) + "?size=100&page=" + std::to_string(page), "");
    if (!answer.ok()) return answer.error();
    auto parsed = parse_data("list instances", answer->status, answer->body);
    if (!parsed.ok()) return parsed.error();
    for (const auto& item : (*parsed)["data"]) {
      if (item.is_object()) out.push_back(to_record(item));
    }
    int64_t total_pages = 1;
    const auto pagination = parsed->find("_pagination");
    if (pagination != parsed->end() && pagination->is_object() && pagination->contains("totalPages") &&
        (*pagination)["totalPages"].is_number_integer()) {
      total_pages = (*pagination)["totalPages"].get<int64_t>();
    }
    if (page >= total_pages) break;
  }
  return out;
}

Result<ContaboProvider::Record> ContaboProvider::get_record(const std::string& id) {
  auto answer = call("GET", std::string(kInstances) + "/" + net::url_encode(id), "");
  if (!answer.ok()) return answer.error();
  auto parsed = parse_data("get instance " + id, answer->status, answer->body);
  if (!parsed.ok()) return parsed.error();
  const auto& data = (*parsed)["data"];
  if (data.empty() || !data[0].is_object()) return Error{ErrorCode::kNotFound, "contabo: no instance " + id};
  return to_record(data[0]);
}

Status ContaboProvider::rename(const std::string& id, const std::string& display_name) {
  auto answer = call("PATCH", std::string(kInstances) + "/" + net::url_encode(id), dump({{"displayName", display_name}}));
  if (!answer.ok()) return answer.error();
  if (!is_success(answer->status)) return status_error("contabo", "rename instance " + id, {answer->status, {}, answer->body});
  return Ok{};
}

Result<std::optional<ContaboProvider::Record>> ContaboProvider::find_named(const std::string& display_name) {
  auto records = list_records();
  if (!records.ok()) return records.error();
  for (auto& record : *records) {
    if (!record.parked_group && record.display_name == display_name) return std::optional<Record>(std::move(record));
  }
  return std::optional<Record>();
}

Result<std::vector<ProviderInstance>> ContaboProvider::list(const std::string& group) {
  auto records = list_records();
  if (!records.ok()) return records.error();
  std::vector<ProviderInstance> out;
  for (const auto& record : *records) {
    if (!record.parked_group && starts_with(record.display_name, group + "-")) out.push_back(to_instance(record, group));
  }
  return out;
}

Result<std::vector<ProviderInstance>> ContaboProvider::parked() {
  auto records = list_records();
  if (!records.ok()) return records.error();
  std::vector<ProviderInstance> out;
  for (const auto& record : *records) {
    if (record.parked_group) out.push_back(to_instance(record, *record.parked_group));
  }
  return out;
}

Result<ProviderInstance> ContaboProvider::get(const std::string& id) {
  auto record = get_record(id);
  if (!record.ok()) return record.error();
  return to_instance(*record, group_of(*record));
}

Result<ProviderInstance> ContaboProvider::create(const CreateRequest& request) {
  if (request.group.empty() || !starts_with(request.name, request.group + "-") ||
      request.name.size() == request.group.size() + 1) {
    return invalid_argument("contabo create: name must be \"<group>-<suffix>\", got \"" + request.name + "\"");
  }
  auto records = list_records();
  if (!records.ok()) return records.error();
  for (const auto& record : *records) {
    if (!record.parked_group && record.display_name == request.name) return to_instance(record, request.group);
  }
  // Reuse a still-paid parked instance of the group and product, the longest parked first.
  const Record* reuse = nullptr;
  for (const auto& record : *records) {
    if (!record.parked_group || *record.parked_group != request.group || !record.cancel_date.empty()) continue;
    if (!request.offering.empty() && record.product_id != request.offering) continue;
    if (!reuse || record.parked_at < reuse->parked_at) reuse = &record;
  }
  if (reuse) {
    // Rename first: from then on a repeated create() finds the instance by name, so a
    // crash between the two steps never leads to a second order.
    if (auto renamed = rename(reuse->id, request.name); !renamed.ok()) return renamed.error();
    json body = {{"userData", request.user_data}, {"defaultUser", settings_.default_user}};
    if (!settings_.image_id.empty()) body["imageId"] = settings_.image_id;
    auto answer = call("PUT", std::string(kInstances) + "/" + net::url_encode(reuse->id), dump(body), request.request_id);
    if (!answer.ok()) return answer.error();
    if (!is_success(answer->status)) {
      return status_error("contabo", "reinstall instance " + reuse->id, {answer->status, {}, answer->body});
    }
    log_.info("parked instance reused", {{"nodegroup", request.group}, {"name", request.name}, {"id", reuse->id},
                                         {"requestId", request.request_id}});
    Record reused = *reuse;
    reused.display_name = request.name;
    reused.parked_group.reset();
    reused.status = "installing";
    return to_instance(reused, request.group);
  }
  json body = {{"period", settings_.period},
               {"region", settings_.region},
               {"displayName", request.name},
               {"userData", request.user_data},
               {"defaultUser", settings_.default_user}};
  if (!request.offering.empty()) body["productId"] = request.offering;
  if (!settings_.image_id.empty()) body["imageId"] = settings_.image_id;
  auto answer = call("POST", kInstances, dump(body), request.request_id, Resend::kOnlyWhenRefused);
  auto parsed = answer.ok() ? parse_data("create instance", answer->status, answer->body) : Result<json>(answer.error());
  if (!parsed.ok()) {
    if (parsed.error().code != ErrorCode::kUnavailable) return parsed.error();
    // The order may have gone through with its answer lost: an instance by this name is the one asked for.
    auto found = find_named(request.name);
    if (found.ok() && *found) {
      log_.warn("create answer lost; the instance was made and is adopted by name",
                {{"nodegroup", request.group}, {"name", request.name}, {"requestId", request.request_id},
                 {"error", parsed.error().message}});
      return to_instance(**found, request.group);
    }
    return parsed.error();
  }
  const auto& data = (*parsed)["data"];
  if (data.empty() || !data[0].is_object() || text_field(data[0], "instanceId").empty()) {
    return Error{ErrorCode::kIo, "contabo create: answer has no instanceId"};
  }
  Record created = to_record(data[0]);
  created.display_name = request.name;
  if (created.product_id.empty()) created.product_id = request.offering;
  log_.info("instance ordered", {{"nodegroup", request.group}, {"name", request.name}, {"id", created.id},
                                 {"requestId", request.request_id}});
  return to_instance(created, request.group);
}

Status ContaboProvider::remove(const ProviderInstance& instance, int /*desired_size*/) {
  std::string id = instance.id;
  if (id.empty()) {
    auto named = find_named(instance.name);
    if (!named.ok()) return named.error();
    if (!*named) return Ok{};
    id = (*named)->id;
  }
  auto record = get_record(id);
  if (!record.ok()) return record.error().code == ErrorCode::kNotFound ? Status(Ok{}) : Status(record.error());
  if (!record->cancel_date.empty() && !record->parked_group) return Ok{};  // cancelled elsewhere: nothing to park
  const std::string group = instance.group.empty() ? group_of(*record) : instance.group;
  if (!record->parked_group) {
    if (auto renamed = rename(id, parked_name(group, wall_now_())); !renamed.ok()) return renamed;
  }
  if (record->status != "stopped") {
    auto answer = call("POST", std::string(kInstances) + "/" + net::url_encode(id) + "/actions/stop", "");
    if (!answer.ok()) return answer.error();
    if (!is_success(answer->status)) return status_error("contabo", "stop instance " + id, {answer->status, {}, answer->body});
  }
  log_.info("instance parked", {{"nodegroup", group}, {"name", instance.name}, {"id", id}});
  return Ok{};
}

Result<std::vector<std::string>> ContaboProvider::cancel_idle_parked(TimePoint now) {
  auto records = list_records();
  if (!records.ok()) return records.error();
  std::vector<std::string> cancelled;
  for (const auto& record : *records) {
    if (!record.parked_group || !record.cancel_date.empty()) continue;
    if (now - record.parked_at < settings_.cancel_parked_after) continue;
    auto answer = call("POST", std::string(kInstances) + "/" + net::url_encode(record.id) + "/cancel", "{}");
    if (!answer.ok()) return answer.error();
    if (!is_success(answer->status)) {
      return status_error("contabo", "cancel instance " + record.id, {answer->status, {}, answer->body});
    }
    log_.info("idle parked instance cancelled", {{"nodegroup", *record.parked_group}, {"id", record.id}});
    cancelled.push_back(record.id);
  }
  return cancelled;
}

}  // namespace ballast::providers
