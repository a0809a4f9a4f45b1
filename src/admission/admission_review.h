#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace ballast::admission {

inline constexpr const char* kAdmissionApiVersion = "admission.k8s.io/v1";

struct GroupVersionKind {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
};

// The fields of an AdmissionReview v1 request the webhook reads.
struct AdmissionRequest {
  std::string uid;
  GroupVersionKind kind;     // after the apiserver's matchPolicy conversion
  std::string sub_resource;  // "scale", "status", ... or empty
  std::string name;          // empty on CREATE with generateName
  std::string ns;
  std::string operation;  // CREATE, UPDATE, DELETE, CONNECT
  nlohmann::json object;      // null when absent (DELETE)
  nlohmann::json old_object;  // null when absent (CREATE)
  bool dry_run = false;
};

// Parses an AdmissionReview v1 body. Errors are kInvalidArgument with the reason the HTTP
// 400 carries: malformed JSON, wrong apiVersion or kind, a missing request or request.uid,
// or no object where the operation needs one. Never throws.
Result<AdmissionRequest> decode_review(std::string_view body);

// What the webhook answers to one request.
struct AdmissionResponse {
  bool allowed = true;
  nlohmann::json patch = nlohmann::json::array();  // RFC 6902 operations; empty = no patch
  std::vector<std::string> warnings;
  int code = 403;       // denied only
  std::string message;  // denied only
};

// The AdmissionReview v1 response body echoing `uid`. `patch` and `patchType` are sent
// together and only when there are operations; warnings are cut to the apiserver's
// limits (120 characters each, at most 4 KiB in all).
std::string encode_review(const std::string& uid, const AdmissionResponse& response);

}  // namespace ballast::admission
