#pragma once

#include <string>

#include "admission/admission_review.h"
#include "net/http_types.h"
#include "policy/tier_policy.h"

namespace ballast::admission {

// Pure: the mutating decision for one request. Defaults Deployments and StatefulSets on
// CREATE, and on UPDATE only when spec.template changed (so installing ballast or changing
// the policy never rolls a workload); bare Pods on CREATE. Subresource requests (/scale,
// /status) and DELETE/CONNECT are allowed untouched. The patch is
// json::diff(received object, defaulted object), so parents are created and keys escaped
// as RFC 6901 asks; a dry run gets the same patch.
AdmissionResponse mutate(const AdmissionRequest& request, const policy::TierPolicy& policy);

// Pure: the validating decision (policy::validate_object) for CREATE and UPDATE of the
// object itself; subresources, DELETE and CONNECT are allowed.
AdmissionResponse validate(const AdmissionRequest& request, const policy::TierPolicy& policy);

// One HTTP exchange, with what the server needs for metrics and logs.
struct HandledRequest {
  net::HttpResponse response;
  std::string route;   // "mutate", "validate", "healthz" or "other"
  std::string result;  // "allowed", "patched", "denied", "bad_request", "not_found"
  std::string uid;     // the AdmissionReview uid, when decoded
  std::string reason;  // why a request was denied or refused
};

// Routes by path (query strings ignored): POST /mutate, POST /validate, GET /healthz.
// A Content-Type other than application/json gets 415; a body that is not an
// AdmissionReview v1 (or nests deeper than kMaxNestingDepth) gets 400; both with the
// reason in the body.
HandledRequest handle_request(const net::HttpRequest& request, const policy::TierPolicy& policy);

}  // namespace ballast::admission
