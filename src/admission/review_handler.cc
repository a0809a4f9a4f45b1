#include "admission/review_handler.h"

#include <cctype>

#include "policy/defaulting.h"
#include "policy/validation.h"

namespace ballast::admission {
namespace {

using json = nlohmann::json;

bool template_changed(const AdmissionRequest& request, policy::WorkloadKind kind) {
  const json* now = policy::pod_template_of(request.object, kind);
  const json* before = policy::pod_template_of(request.old_object, kind);
  if (now == nullptr || before == nullptr) return now != before;
  return *now != *before;
}

// The request's namespace; the object's as a fallback for hand-made reviews.
std::string namespace_of(const AdmissionRequest& request) {
  if (!request.ns.empty()) return request.ns;
  const auto metadata = request.object.find("metadata");
  if (metadata == request.object.end() || !metadata->is_object()) return "";
  const auto ns = metadata->find("namespace");
  return ns != metadata->end() && ns->is_string() ? ns->get<std::string>() : "";
}

// application/json, in any case, with or without parameters ("; charset=utf-8"): what
// the apiserver sends.
bool is_json_content_type(const net::HttpRequest& request) {
  const auto it = request.headers.find("content-type");
  if (it == request.headers.end()) return false;
  std::string media = it->second.substr(0, it->second.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.pop_back();
  for (auto& c : media) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return media == "application/json";
}

net::HttpResponse json_response(std::string body) {
  return net::HttpResponse{200, "application/json", std::move(body)};
}

net::HttpResponse text_response(int status, std::string body) {
  return net::HttpResponse{status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

}  // namespace

AdmissionResponse mutate(const AdmissionRequest& request, const policy::TierPolicy& policy) {
  AdmissionResponse response;
  if (!request.sub_resource.empty()) return response;
  const auto kind = policy::workload_kind(request.kind.group, request.kind.kind);
  if (kind == policy::WorkloadKind::kOther) return response;
  if (request.operation == "UPDATE") {
    // A Pod's spec is immutable; a workload's template is touched only when the user
    // changed it, since any change to it rolls every pod.
    if (kind == policy::WorkloadKind::kPod || !template_changed(request, kind)) return response;
  } else if (request.operation != "CREATE") {
    return response;
  }
  auto defaulted = policy::apply_defaults(request.object, kind, namespace_of(request), policy);
  response.warnings = std::move(defaulted.warnings);
  if (defaulted.tier.empty()) return response;
  // Defaulting touches only metadata and the pod spec, so diffing those two subtrees
  // gives the whole-object diff's operations without walking, comparing and copying the
  // rest at every level (the costliest step of a review).
  const json::json_pointer pod_spec(policy::pod_spec_pointer(kind));
  response.patch = json::diff(request.object["metadata"], defaulted.object["metadata"], "/metadata");
  for (auto& operation : json::diff(request.object[pod_spec], defaulted.object[pod_spec], pod_spec.to_string())) {
    response.patch.push_back(std::move(operation));
  }
  return response;
}

AdmissionResponse validate(const AdmissionRequest& request, const policy::TierPolicy& policy) {
  AdmissionResponse response;
  if (!request.sub_resource.empty()) return response;
  if (request.operation != "CREATE" && request.operation != "UPDATE") return response;
  const std::string ns = namespace_of(request);
  const policy::ObjectUnderReview review{request.kind.group, request.kind.kind, ns, request.object,
                                         request.operation == "UPDATE" ? &request.old_object : nullptr};
  auto verdict = policy::validate_object(review, policy);
  response.allowed = verdict.allowed;
  response.message = std::move(verdict.reason);
  response.warnings = std::move(verdict.warnings);
  return response;
}

HandledRequest handle_request(const net::HttpRequest& request, const policy::TierPolicy& policy) {
  HandledRequest handled;
  const std::string path = request.path();
  if (path == "/healthz") {
    handled.route = "healthz";
    handled.result = "allowed";
    handled.response = text_response(200, "ok");
    return handled;
  }
  if (path != "/mutate" && path != "/validate") {
    handled.route = "other";
    handled.result = "not_found";
    handled.response = text_response(404, "not found");
    return handled;
  }
  handled.route = path.substr(1);
  if (request.method != "POST") {
    handled.result = "bad_request";
    handled.reason = "method must be POST";
    handled.response = text_response(405, handled.reason);
    return handled;
  }
  if (!is_json_content_type(request)) {
    handled.result = "bad_request";
    handled.reason = "Content-Type must be application/json (an AdmissionReview)";
    handled.response = text_response(415, handled.reason);
    return handled;
  }
  auto decoded = decode_review(request.body);
  if (!decoded) {
    handled.result = "bad_request";
    handled.reason = decoded.error().message;
    handled.response = text_response(400, handled.reason);
    return handled;
  }
  handled.uid = decoded->uid;
  const AdmissionResponse answer = path == "/mutate" ? mutate(*decoded, policy) : validate(*decoded, policy);
  handled.result = !answer.allowed ? "denied" : answer.patch.empty() ? "allowed" : "patched";
  handled.reason = answer.message;
  handled.response = json_response(encode_review(decoded->uid, answer));
  return handled;
}

}  // namespace ballast::admission
