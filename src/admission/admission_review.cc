#include "admission/admission_review.h"

#include "core/base64.h"
#include "core/nesting.h"

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

// Moved out rather than copied: objects are the bulk of a review. Their managedFields are
// a large share of that and nothing here reads them; dropping them from both objects
// leaves the patch unchanged and spares defaulting a copy and a diff of them.
json take_object(json& request, const char* key) {
  const auto it = request.find(key);
  if (it == request.end()) return json();
  json object = std::move(*it);
  if (object.is_object()) {
    if (const auto metadata = object.find("metadata"); metadata != object.end() && metadata->is_object()) {
      metadata->erase("managedFields");
    }
  }
  return object;
}

}  // namespace

Result<AdmissionRequest> decode_review(std::string_view body) {
  // Before the parser: the decision copies, compares and diffs the object recursively.
  if (auto nesting = check_json_nesting(body, "the AdmissionReview"); !nesting) return nesting.error();
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
  decoded.object = take_object(request, "object");
  decoded.old_object = take_object(request, "oldObject");
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
  std::string encoded = json{{"apiVersion", kAdmissionApiVersion}, {"kind", "AdmissionReview"}, {"response", std::move(body)}}
                            .dump(-1, ' ', false, json::error_handler_t::replace);
  if (response.patch.is_array() && !response.patch.empty()) {
    // Spliced in after dump(): base64 needs no escaping, and dump() would validate the
    // UTF-8 of every byte of it (the costliest step of a review's answer).
    const std::string patch = base64_encode(response.patch.dump(-1, ' ', false, json::error_handler_t::replace));
    encoded.resize(encoded.size() - 2);  // the closing braces of `response` and the review
    encoded.append(R"(,"patchType":"JSONPatch","patch":")").append(patch).append("\"}}");
  }
  return encoded;
}

}  // namespace ballast::admission
