#include "kube/wire.h"

#include "core/nesting.h"

namespace ballast::kube {
namespace {

using nlohmann::json;

// A watch event line larger than this is a broken stream, not an object.
constexpr size_t kMaxWatchLine = 16u << 20;

// `object[key]` as a string: absent → empty, another type → kIo naming it.
Result<std::string> optional_string(const json& object, const char* key, const std::string& what) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return io_error(what + ": metadata." + key + " is not a string");
  return it->get<std::string>();
}

}  // namespace

Result<json> parse_api_body(std::string_view body, const std::string& what) {
  if (auto nesting = check_json_nesting(body, what); !nesting) return io_error(nesting.error().message);
  json parsed = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return io_error(what + ": the apiserver answered with a body that is not JSON");
  return parsed;
}

Result<ListPage> decode_list_page(std::string_view body, const Resource& resource, const std::string& what) {
  auto page = parse_api_body(body, what);
  if (!page) return page.error();
  if (!page->is_object()) return io_error(what + ": the answer is not a JSON object");
  ListPage out;
  if (const auto metadata = page->find("metadata"); metadata != page->end() && !metadata->is_null()) {
    if (!metadata->is_object()) return io_error(what + ": metadata is not an object");
    auto continue_token = optional_string(*metadata, "continue", what);
    if (!continue_token) return continue_token.error();
    auto resource_version = optional_string(*metadata, "resourceVersion", what);
    if (!resource_version) return resource_version.error();
    out.continue_token = std::move(*continue_token);
    out.resource_version = std::move(*resource_version);
  }
  const auto items = page->find("items");
  if (items == page->end() || items->is_null()) return out;
  if (!items->is_array()) return io_error(what + ": items is not an array");
  out.items.reserve(items->size());
  for (auto& item : *items) {
    if (!item.is_object()) return io_error(what + ": items[" + std::to_string(out.items.size()) + "] is not an object");
    item["kind"] = resource.kind;
    item["apiVersion"] = resource.api_version();
    out.items.push_back(std::move(item));
  }
  return out;
}

bool WatchLineReader::consume(std::string_view piece) {
  if (error_) return false;
  pending_.append(piece);
  size_t start = 0;
  for (size_t newline; (newline = pending_.find('\n', start)) != std::string::npos; start = newline + 1) {
    if (!handle_line(std::string_view(pending_).substr(start, newline - start))) return false;
  }
  pending_.erase(0, start);
  if (pending_.size() > kMaxWatchLine) {
    error_ = io_error(what_ + ": a watch event is larger than " + std::to_string(kMaxWatchLine) + " bytes");
    return false;
  }
  return true;
}

bool WatchLineReader::handle_line(std::string_view line) {
  if (line.find_first_not_of(" \r\t") == std::string_view::npos) return true;
  json event = parse_bounded_json<json>(line);
  if (event.is_discarded() || !event.is_object() || !event.contains("type") || !event["type"].is_string()) {
    error_ = io_error(what_ + ": malformed watch event");
    return false;
  }
  std::string type = event["type"].get<std::string>();
  json object = event.contains("object") ? std::move(event["object"]) : json::object();
  if (type == "ERROR") {
    const int code = object.is_object() && object.contains("code") && object["code"].is_number_integer()
                         ? object["code"].get<int>()
                         : 500;
    error_ = api_error(code, object.dump(), what_);
    return false;
  }
  // Every consumer reads and writes the object's fields (the informer sets kind and
  // apiVersion); a scalar there would throw on an I/O thread.
  if (!object.is_object()) {
    error_ = io_error(what_ + ": malformed watch event (" + type + " without an object)");
    return false;
  }
  on_event_(WatchEvent{std::move(type), std::move(object)});
  return true;
}

Error api_error(int http_status, const std::string& body, const std::string& what) {
  std::string message;
  std::string reason;
  json status = parse_bounded_json<json>(body);
  if (status.is_object()) {
    if (status.contains("message") && status["message"].is_string()) message = status["message"].get<std::string>();
    if (status.contains("reason") && status["reason"].is_string()) reason = status["reason"].get<std::string>();
  }
  const std::string text = what + ": HTTP " + std::to_string(http_status) + (reason.empty() ? "" : " " + reason) +
                           (message.empty() ? "" : ": " + message);
  switch (http_status) {
    case 400:
    case 422: return invalid_argument(text);
    case 401:
    case 403: return Error{ErrorCode::kInternal, text};
    case 404: return Error{ErrorCode::kNotFound, text};
    case 409: return Error{reason == "AlreadyExists" ? ErrorCode::kAlreadyExists : ErrorCode::kConflict, text};
    case 410: return Error{ErrorCode::kExpired, text};
    case 429: return Error{ErrorCode::kTooManyRequests, text};
    default: return unavailable(text);
  }
}

}  // namespace ballast::kube
