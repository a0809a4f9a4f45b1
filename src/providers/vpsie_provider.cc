#include "providers/vpsie_provider.h"

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

#include "core/nesting.h"

namespace ballast::providers {
namespace {

using nlohmann::json;
using nodepool::CreateRequest;
using nodepool::ProviderInstance;

constexpr const char* kVmPath = "/api/v2/vm";
constexpr const char* kPendingPath = "/apps/v2/vm/pending";

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool flag(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_number()) return it->get<double>() != 0;
  if (it->is_string()) return it->get<std::string>() == "1" || lower(it->get<std::string>()) == "true";
  return false;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// The state vocabulary of ProviderInstance from VmData (the exact VPSie values are not
// documented; unknown ones count as still creating, bounded by the provision timeout).
std::string map_state(const json& vm) {
  if (flag(vm, "is_deleted")) return "deleting";
  if (flag(vm, "is_suspended") || flag(vm, "is_locked")) return "error";
  const std::string state = lower(text_field(vm, "state"));
  if (state == "running" || state == "active" || state == "started") return "running";
  if (state == "error" || state == "failed") return "error";
  if (state == "stopped" || state == "off" || state == "shutdown") return "stopped";
  if (state == "deleting" || state == "deleted") return "deleting";
  if (flag(vm, "power")) return "running";
  return "creating";
}

bool in_group(const json& vm, const std::string& group) {
  if (starts_with(text_field(vm, "hostname"), group + "-")) return true;
  const auto tags = vm.find("tags");
  if (tags == vm.end() || !tags->is_array()) return false;
  for (const auto& tag : *tags) {
    if (tag.is_string() && tag.get<std::string>() == VpsieProvider::group_tag(group)) return true;
  }
  return false;
}

ProviderInstance to_instance(const json& vm, const std::string& group) {
  ProviderInstance instance;
  instance.id = text_field(vm, "identifier");
  instance.name = text_field(vm, "hostname");
  instance.group = group;
  instance.offering = text_field(vm, "resourceIdentifier");
  instance.state = map_state(vm);
  if (auto created = parse_time(text_field(vm, "created_on")); created.ok()) instance.created_at = *created;
  return instance;
}

// {"error":true,...} may come with HTTP 200: that is an error too.
Result<json> envelope(const std::string& what, int status, const std::string& body) {
  json parsed = parse_bounded_json<json>(body);
  const bool object = parsed.is_object();
  if (object && flag(parsed, "error")) {
    const int code = parsed.contains("code") && parsed["code"].is_number_integer() ? parsed["code"].get<int>() : status;
    std::string message = text_field(parsed, "message").substr(0, 200);
    ErrorCode error = ErrorCode::kInternal;
    if (code == 404 || lower(message).find("not found") != std::string::npos) error = ErrorCode::kNotFound;
    else if (code == 401 || code == 403 || code == 400) error = ErrorCode::kInvalidArgument;
    else if (code == 429) error = ErrorCode::kTooManyRequests;
    else if (code >= 500) error = ErrorCode::kUnavailable;
    return Error{error, "vpsie " + what + ": error " + std::to_string(code) + ": " + message};
  }
  if (!is_success(status)) {
    net::HttpClientResponse response;
    response.status = status;
    response.body = body;
    return status_error("vpsie", what, response);
  }
  if (!object) return Error{ErrorCode::kIo, "vpsie " + what + ": answer is not a JSON object"};
  return parsed;
}

}  // namespace

Result<std::unique_ptr<VpsieProvider>> VpsieProvider::make(VpsieSettings settings, const ProviderContext& context) {
  if (!context.clock || !context.transport) return invalid_argument("vpsie: clock and transport are required");
  auto api_url = api_base_url(settings.api_url, "vpsie apiURL");
  if (!api_url) return api_url.error();
  settings.api_url = std::move(*api_url);
  if (settings.token.empty() && (settings.client_id.empty() || settings.client_secret.empty())) {
    return invalid_argument("vpsie credentials: need `token`, or `clientId` and `clientSecret`");
  }
  if (settings.datacenter.empty() || settings.os_identifier.empty()) {
    return invalid_argument("vpsie: datacenter and osIdentifier are required");
  }
  return std::unique_ptr<VpsieProvider>(new VpsieProvider(std::move(settings), context));
}

VpsieProvider::VpsieProvider(VpsieSettings settings, const ProviderContext& context)
    : settings_(std::move(settings)),
      wall_now_(context.wall_now),
      http_("vpsie", context),
      bearer_(context.wall_now, settings_.refresh_before, [this](TimePoint now) { return login(now); }) {}

Result<TokenCache::Token> VpsieProvider::login(TimePoint now) {
  net::HttpClientRequest request;
  request.method = "POST";
  request.url = settings_.api_url + settings_.auth_path;
  request.tls = settings_.tls;
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  request.body = form_encode({{"clientId", settings_.client_id}, {"clientSecret", settings_.client_secret}});
  auto response = http_.send(std::move(request));
  if (!response.ok()) return response.error();
  auto parsed = envelope("login", response->status, response->body);
  if (!parsed.ok()) return parsed.error();
  const json& body = *parsed;
  const auto access = body.find("accessToken");
  if (access == body.end() || !access->is_object() || text_field(*access, "token").empty()) {
    return Error{ErrorCode::kIo, "vpsie login: answer has no accessToken.token"};
  }
  auto expires = parse_time(text_field(*access, "expires"));
  // Without a readable expiry, keep the token until a 401 says otherwise.
  const TimePoint expiry = expires.ok() ? *expires : now + std::chrono::hours(24 * 365);
  // In whole seconds before subtracting: an expiry in 1680 minus now overflows nanoseconds.
  const auto unix_seconds = [](TimePoint time) {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  };
  log_.info("logged in", {{"expiresInSeconds", static_cast<int64_t>(unix_seconds(expiry) - unix_seconds(now))}});
  return TokenCache::Token{text_field(*access, "token"), expiry};
}

Result<VpsieProvider::Answer> VpsieProvider::call(const std::string& method, const std::string& path,
                                                   const std::string& body, Resend resend) {
  const bool bearer_flow = settings_.token.empty();
  for (int attempt = 0;; ++attempt) {
    net::HttpClientRequest request;
    request.method = method;
    request.url = settings_.api_url + path;
    request.tls = settings_.tls;
    request.headers = {{"Accept", "application/json"}};
    if (!body.empty()) {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = body;
    }
    if (bearer_flow) {
      auto token = bearer_.get(attempt > 0);
      if (!token.ok()) return token.error();
      request.headers.emplace_back("Authorization", "Bearer " + *token);
    } else {
      request.headers.emplace_back("Vpsie-Auth", settings_.token);
    }
    auto response = http_.send(std::move(request), resend);
    if (!response.ok()) return response.error();
    if (response->status == 401 && bearer_flow && attempt == 0) {
      log_.info("token rejected, logging in again");
      continue;
    }
    return Answer{response->status, std::move(response->body)};
  }
}

Result<std::vector<ProviderInstance>> VpsieProvider::list_all(const std::string& group, bool include_pending) {
  std::string path = kVmPath;
  if (!settings_.project_id.empty()) path += "?projectId=" + net::url_encode(settings_.project_id);
  auto answer = call("GET", path, "");
  if (!answer.ok()) return answer.error();
  auto parsed = envelope("GET " + std::string(kVmPath), answer->status, answer->body);
  if (!parsed.ok()) return parsed.error();
  const auto data = parsed->find("data");
  if (data == parsed->end() || !data->is_array()) return Error{ErrorCode::kIo, "vpsie list: data is not an array"};
  std::vector<ProviderInstance> out;
  for (const auto& vm : *data) {
    if (!vm.is_object() || !in_group(vm, group) || flag(vm, "is_deleted")) continue;
    out.push_back(to_instance(vm, group));
  }
  if (!include_pending) return out;
  // VMs still being built are not in the list yet; without them a repeated create would
  // order a second VM.
  auto pending_answer = call("GET", kPendingPath, "");
  if (!pending_answer.ok()) return pending_answer.error();
  auto pending = envelope("GET " + std::string(kPendingPath), pending_answer->status, pending_answer->body);
  if (!pending.ok()) return pending.error();
  const auto items = pending->find("data");
  if (items == pending->end() || !items->is_array()) return out;
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    const std::string hostname = text_field(item, "hostname");
    if (!starts_with(hostname, group + "-")) continue;
    if (std::any_of(out.begin(), out.end(), [&](const ProviderInstance& i) { return i.name == hostname; })) continue;
    ProviderInstance instance;
    instance.name = hostname;
    instance.group = group;
    instance.offering = text_field(item, "resourceIdentifier");
    instance.state = "creating";
    out.push_back(std::move(instance));
  }
  return out;
}

Result<std::vector<ProviderInstance>> VpsieProvider::list(const std::string& group) { return list_all(group, true); }

Result<ProviderInstance> VpsieProvider::get(const std::string& id) {
  if (id.empty()) return Error{ErrorCode::kNotFound, "vpsie get: empty identifier (still pending?)"};
  auto answer = call("GET", std::string(kVmPath) + "/" + net::url_encode(id), "");
  if (!answer.ok()) return answer.error();
  auto parsed = envelope("GET vm " + id, answer->status, answer->body);
  if (!parsed.ok()) return parsed.error();
  const auto data = parsed->find("data");
  if (data == parsed->end() || !data->is_object()) return Error{ErrorCode::kIo, "vpsie get: data is not an object"};
  const auto vm_data = data->find("vmData");
  const json& vm = vm_data != data->end() && vm_data->is_object() ? *vm_data : *data;
  const std::string hostname = text_field(vm, "hostname");
  // The group is the hostname's prefix up to the last '-' (names are "<group>-<suffix>").
  const auto dash = hostname.rfind('-');
  return to_instance(vm, dash == std::string::npos ? std::string() : hostname.substr(0, dash));
}

Result<ProviderInstance> VpsieProvider::create(const CreateRequest& request) {
  if (request.group.empty() || !starts_with(request.name, request.group + "-") ||
      request.name.size() == request.group.size() + 1) {
    return invalid_argument("vpsie create: name must be \"<group>-<suffix>\", got \"" + request.name + "\"");
  }
  if (request.offering.empty()) return invalid_argument("vpsie create: offering (resourceIdentifier) required");
  const auto find = [&]() -> Result<std::optional<ProviderInstance>> {
    auto existing = list_all(request.group, true);
    if (!existing.ok()) return existing.error();
    for (auto& instance : *existing) {
      if (instance.name == request.name) return std::optional<ProviderInstance>(std::move(instance));
    }
    return std::optional<ProviderInstance>();
  };
  auto found = find();
  if (!found.ok()) return found.error();
  if (*found) return std::move(**found);

  json body = {{"resourceIdentifier", request.offering},
               {"osIdentifier", settings_.os_identifier},
               {"dcIdentifier", settings_.datacenter},
               {"hostname", request.name},
               {"notes", "ballast nodegroup " + request.group + " request " + request.request_id},
               {"tags", json::array({"ballast", group_tag(request.group)})},
               {"userData", request.user_data},
               {"addPublicIpV4", true},
               {"backupEnabled", false}};
  if (!settings_.project_id.empty()) body["projectId"] = settings_.project_id;
  auto answer = call("POST", kVmPath, body.dump(-1, ' ', false, json::error_handler_t::replace),
                     Resend::kOnlyWhenRefused);
  auto parsed = answer.ok() ? envelope("POST vm", answer->status, answer->body) : Result<json>(answer.error());
  if (!parsed.ok()) {
    if (parsed.error().code != ErrorCode::kUnavailable) return parsed.error();
    // The order may have gone through with its answer lost: a VM by this name is the one asked for.
    found = find();
    if (found.ok() && *found) {
      log_.warn("create answer lost; the VM was made and is adopted by name",
                {{"nodegroup", request.group}, {"name", request.name}, {"requestId", request.request_id},
                 {"error", parsed.error().message}});
      return std::move(**found);
    }
    return parsed.error();
  }
  log_.info("vm ordered", {{"nodegroup", request.group}, {"name", request.name}, {"offering", request.offering},
                           {"requestId", request.request_id}});
  found = find();
  if (found.ok() && *found) return std::move(**found);
  // Ordered but not visible yet: the next list() will show it; create() of the same name
  // meanwhile would order again only if VPSie lists it neither as a VM nor as pending.
  return ProviderInstance{"", request.name, request.group, request.offering, "creating", wall_now_()};
}

Status VpsieProvider::remove(const ProviderInstance& instance, int /*desired_size*/) {
  std::string id = instance.id;
  if (id.empty()) {
    if (instance.group.empty()) return invalid_argument("vpsie remove: need an id or a group and name");
    auto existing = list_all(instance.group, true);
    if (!existing.ok()) return existing.error();
    for (const auto& candidate : *existing) {
      if (candidate.name != instance.name) continue;
      // Still being built, so it has no identifier to delete yet: an error keeps the
      // caller's record of it, and the caller tries again later.
      if (candidate.id.empty()) {
        return Error{ErrorCode::kUnavailable, "vpsie remove: " + instance.name + " is still pending"};
      }
      id = candidate.id;
    }
    if (id.empty()) return Ok{};  // already gone
  }
  json body = {{"vmIdentifier", id},
               {"password", settings_.account_password},
               {"deleteStatistic", {{"reason", "ballast scale-down"}, {"note", "node " + instance.name}}}};
  auto answer = call("DELETE", kVmPath, body.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!answer.ok()) return answer.error();
  if (answer->status == 404) return Ok{};
  auto parsed = envelope("DELETE vm " + id, answer->status, answer->body);
  if (!parsed.ok()) {
    if (parsed.error().code == ErrorCode::kNotFound) return Ok{};
    return parsed.error();
  }
  log_.info("vm deleted", {{"nodegroup", instance.group}, {"name", instance.name}, {"id", id}});
  return Ok{};
}

}  // namespace ballast::providers
