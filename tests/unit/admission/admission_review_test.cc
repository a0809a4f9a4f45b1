#include "admission/admission_review.h"

#include <catch2/catch.hpp>

#include "core/base64.h"

using namespace ballast;
using namespace ballast::admission;
using json = nlohmann::json;

TEST_CASE("a review is decoded with the fields the webhook reads", "[codec]") {
  auto decoded = decode_review(R"json({
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {
      "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
      "kind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
      "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
      "subResource": "scale",
      "requestKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
      "name": "web", "namespace": "shop", "operation": "UPDATE",
      "userInfo": {"username": "system:serviceaccount:keda:keda-operator"},
      "object": {"kind": "Scale", "spec": {"replicas": 5}},
      "oldObject": {"kind": "Scale", "spec": {"replicas": 2}},
      "dryRun": true,
      "options": {"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1"}
    }})json");
  REQUIRE(decoded.ok());
  CHECK(decoded->uid == "705ab4f5-6393-11e8-b7cc-42010a800002");
  CHECK(decoded->kind.group == "autoscaling");
  CHECK(decoded->kind.kind == "Scale");
  CHECK(decoded->sub_resource == "scale");
  CHECK(decoded->ns == "shop");
  CHECK(decoded->operation == "UPDATE");
  CHECK(decoded->object["spec"]["replicas"] == 5);
  CHECK(decoded->old_object["spec"]["replicas"] == 2);
  CHECK(decoded->dry_run);
}

TEST_CASE("managedFields of both objects are left out; same-named keys elsewhere are kept", "[codec]") {
  auto decoded = decode_review(R"json({
    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
    "request": {
      "uid": "u", "kind": {"group": "", "version": "v1", "kind": "ConfigMap"}, "operation": "UPDATE",
      "object": {"metadata": {"name": "c", "managedFields": [{"manager": "kubectl"}]},
                 "data": {"managedFields": "kept"}},
      "oldObject": {"metadata": {"name": "c", "managedFields": [{"manager": "helm"}]},
                    "spec": {"template": {"metadata": {"managedFields": "kept"}}}}
    }})json");
  REQUIRE(decoded.ok());
  CHECK(decoded->object["metadata"] == json{{"name", "c"}});
  CHECK(decoded->object["data"]["managedFields"] == "kept");
  CHECK(decoded->old_object["metadata"] == json{{"name", "c"}});
  CHECK(decoded->old_object["spec"]["template"]["metadata"]["managedFields"] == "kept");
}

TEST_CASE("malformed reviews are refused with a reason", "[codec]") {
  struct Row {
    const char* body;
    const char* reason;
  };
  const Row rows[] = {
      {"", "not valid JSON"},
      {"{\"apiVersion\": ", "not valid JSON"},
      {"[1, 2]", "not a JSON object"},
      {R"({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}})",
       "apiVersion must be admission.k8s.io/v1"},
      {R"({"kind": "AdmissionReview", "request": {"uid": "u"}})", "apiVersion must be"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "Review", "request": {"uid": "u"}})",
       "kind must be AdmissionReview"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})", "request is missing"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": "x"})", "request is missing"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"kind": {"kind": "Pod"}}})",
       "request.uid is missing"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": 7}})",
       "request.uid is missing"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u"}})",
       "request.kind is missing"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u",
          "kind": {"version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": null}})",
       "request.object must be an object for CREATE"},
      {R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u",
          "kind": {"version": "v1", "kind": "Pod"}, "operation": "UPDATE", "object": {}}})",
       "request.oldObject must be an object for UPDATE"},
      {"{\"apiVersion\": \"admission.k8s.io/v1\", \"kind\": \"AdmissionReview\", \"request\": {\"uid\": \"\xff\"}}",
       "not valid JSON"},
  };
  for (const auto& row : rows) {
    INFO(row.body);
    auto decoded = decode_review(row.body);
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(decoded.error().message, Catch::Contains(row.reason));
  }
}

TEST_CASE("a DELETE review needs no object", "[codec]") {
  auto decoded = decode_review(R"json({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "u", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                  "operation": "DELETE", "object": null, "oldObject": {"metadata": {"name": "web"}}}})json");
  REQUIRE(decoded.ok());
  CHECK(decoded->object.is_null());
  CHECK_FALSE(decoded->dry_run);
}

TEST_CASE("a response echoes the uid and sends patch and patchType together", "[codec]") {
  AdmissionResponse allowed;
  json body = json::parse(encode_review("abc", allowed));
  CHECK(body["apiVersion"] == "admission.k8s.io/v1");
  CHECK(body["kind"] == "AdmissionReview");
  CHECK(body["response"] == json::parse(R"({"uid": "abc", "allowed": true})"));

  AdmissionResponse patched;
  patched.patch = json::parse(R"([{"op": "add", "path": "/metadata/annotations", "value": {"a": "b"}}])");
  body = json::parse(encode_review("abc", patched));
  CHECK(body["response"]["patchType"] == "JSONPatch");
  CHECK(body["response"]["patch"] == base64_encode(patched.patch.dump()));

  AdmissionResponse denied;
  denied.allowed = false;
  denied.message = "no";
  body = json::parse(encode_review("abc", denied));
  CHECK(body["response"]["allowed"] == false);
  CHECK(body["response"]["status"]["code"] == 403);
  CHECK(body["response"]["status"]["message"] == "no");
  CHECK_FALSE(body["response"].contains("patchType"));
}

TEST_CASE("warnings are cut to the apiserver's limits", "[codec]") {
  AdmissionResponse response;
  response.warnings = {std::string(300, 'w'), "short"};
  for (int i = 0; i < 100; ++i) response.warnings.push_back(std::string(100, 'x'));
  const json warnings = json::parse(encode_review("u", response))["response"]["warnings"];
  CHECK(warnings[0].get<std::string>().size() == 120);
  CHECK(warnings[1] == "short");
  size_t total = 0;
  for (const auto& warning : warnings) total += warning.get<std::string>().size();
  CHECK(total <= 4096);
}
