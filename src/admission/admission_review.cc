#include "admission/admission_review.h"

namespace ballast::admission {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxWarningLength = 120;
constexpr size_t kMaxWarningsBytes = 4096;

// A string member, or "" when absent or of another type.
std::string text(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Moved out rather than copied: objects are the bulk of a review (managedFields included).
json take_member(json& object, const char* key) {
  const auto it = object.find(key);
  return it == object.end() ? json() : std::move(*it);
}

}  // namespace

Result<AdmissionRequest> decode_review(std::string_view body) {
  json review = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (review.is_discarded()) return invalid_argument("body is not valid JSON");
  if (!review.is_object()) return invalid_argument("body is not a JSON object");
  if (const auto version = text(review, "apiVersion"); version != kAdmissionApiVersion) {
    return invalid_argument("apiVersion must be " + std::string(kAdmissionApiVersion) + ", got \"" + version + "\"");
  }
  if (const auto kind = text(review, "kind"); kind != "AdmissionReview") {
    return invalid_argument("kind must be AdmissionReview, got \"" + kind + "\"");
  }
  const auto request_it = review.find("request");
  if (request_it == review.end() || !request_it->is_object()) return invalid_argument("request is missing");
  json& request = *request_it;

  AdmissionRequest decoded;
  decoded.uid = text(request, "uid");
  if (decoded.uid.empty()) return invalid_argument("request.uid is missing");
  const auto kind_it = request.find("kind");
  if (kind_it == request.end() || !kind_it->is_object() || text(*kind_it, "kind").empty()) {
    return invalid_argument("request.kind is missing");
  }
  decoded.kind = {text(*kind_it, "group"), text(*kind_it, "version"), text(*kind_it, "kind")};
  decoded.sub_resource = text(request, "subResource");
  decoded.name = text(request, "name");
  decoded.ns = text(request, "namespace");
  decoded.operation = text(request, "operation");
  decoded.object = take_member(request, "object");
  decoded.old_object = take_member(request, "oldObject");
  const auto dry_run = request.find("dryRun");
  decoded.dry_run = dry_run != request.end() && dry_run->is_boolean() && dry_run->get<bool>();

  if ((decoded.operation == "CREATE" || decoded.operation == "UPDATE") && !decoded.object.is_object()) {
    return invalid_argument("request.object must be an object for " + decoded.operation);
  }
  if (decoded.operation == "UPDATE" && !decoded.old_object.is_object()) {
    return invalid_argument("request.oldObject must be an object for UPDATE");
  }
  return decoded;
}

std::string encode_review(const std::string& uid, const AdmissionResponse& response) {
  json body = {{"uid", uid}, {"allowed", response.allowed}};
  if (!response.allowed) {
    body["status"] = {{"code", response.code}, {"message", response.message}, {"status", "Failure"}};
  }
  if (response.patch.is_array() && !response.patch.empty()) {
    body["patchType"] = "JSONPatch";
    body["patch"] = base64_encode(response.patch.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  if (!response.warnings.empty()) {
    json warnings = json::array();
    size_t total = 0;
    for (const auto& warning : response.warnings) {
      std::string cut = warning.size() > kMaxWarningLength ? warning.substr(0, kMaxWarningLength - 3) + "..." : warning;
      total += cut.size();
      if (total > kMaxWarningsBytes) break;
      warnings.push_back(std::move(cut));
    }
    body["warnings"] = std::move(warnings);
  }
  // dump() throws only on invalid UTF-8, which the parser already refused on the way in;
  // `replace` turns "unlikely" into "impossible" on this request path.
  return json{{"apiVersion", kAdmissionApiVersion}, {"kind", "AdmissionReview"}, {"response", std::move(body)}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += {kAlphabet[(n >> 18) & 63], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
  }
  if (const size_t rest = bytes.size() - i; rest > 0) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace ballast::admission
