#include "admission/review_handler.h"

#include <catch2/catch.hpp>

#include "core/base64.h"
#include "core/nesting.h"
#include "policy/defaulting.h"

using namespace ballast;
using namespace ballast::admission;
using json = nlohmann::json;

namespace {

const std::map<std::string, std::string> kJson = {{"content-type", "application/json"}};

const policy::TierPolicy& test_policy() {
  static const policy::TierPolicy policy = policy::default_policy();
  return policy;
}

json deployment() {
  return json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"},
                 "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}]},
    "spec": {
      "replicas": 3,
      "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
      "template": {
        "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {}}]}
      }
    }
  })json");
}

json statefulset() {
  return json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "pg", "namespace": "databases", "annotations": {"team": "data"}},
    "spec": {
      "replicas": 3, "serviceName": "pg",
      "selector": {"matchLabels": {"app": "pg"}},
      "template": {
        "metadata": {"labels": {"app": "pg"}},
        "spec": {
          "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "workload-type", "operator": "In", "values": ["db"]}]}]}}},
          "containers": [{"name": "pg", "image": "postgres:16"}]
        }
      },
      "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]
    }
  })json");
}

json replicaset_pod() {
  return json::parse(R"json({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"generateName": "web-7d4b9c8f5-", "namespace": "shop",
                 "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d4b9c8f5"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f5",
                                      "uid": "6f1c", "controller": true, "blockOwnerDeletion": true}]},
    "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {}}],
             "priority": 10000, "priorityClassName": "platform-normal"},
    "status": {}
  })json");
}

json review(const std::string& group, const std::string& kind, const std::string& operation, const json& object,
            const json& old_object = nullptr, const std::string& sub_resource = "", bool dry_run = false) {
  json request = {{"uid", "e911857d-c318-11e8-bbad-025000000001"},
                  {"kind", {{"group", group}, {"version", "v1"}, {"kind", kind}}},
                  {"namespace", "shop"},
                  {"operation", operation},
                  {"userInfo", {{"username", "admin"}, {"groups", {"system:masters", "system:authenticated"}}}},
                  {"object", object},
                  {"oldObject", old_object},
                  {"dryRun", dry_run}};
  if (object.is_object() && object.contains("metadata") && object["metadata"].contains("namespace")) {
    request["namespace"] = object["metadata"]["namespace"];
  }
  if (!sub_resource.empty()) request["subResource"] = sub_resource;
  if (dry_run) request["options"] = {{"kind", "CreateOptions"}, {"apiVersion", "meta.k8s.io/v1"}, {"dryRun", {"All"}}};
  return {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", request}};
}

struct Answer {
  int status = 0;
  json response;  // the AdmissionReview's response
  json patch;     // decoded JSONPatch operations, null when none
};

Answer call(const std::string& target, const json& body) {
  net::HttpRequest request{"POST", target, {{"content-type", "application/json"}}, body.dump()};
  const HandledRequest handled = handle_request(request, test_policy());
  Answer answer;
  answer.status = handled.response.status;
  if (answer.status != 200) return answer;
  answer.response = json::parse(handled.response.body)["response"];
  if (answer.response.contains("patch")) {
    answer.patch = json::parse(base64_decode(answer.response["patch"].get<std::string>()).value());
  }
  return answer;
}

// Applies the answer's patch with nlohmann's RFC 6902 implementation, which like the
// apiserver's refuses an add whose parent is missing.
json apply_patch(const json& object, const Answer& answer) {
  return answer.patch.is_null() ? object : object.patch(answer.patch);
}

bool has_op(const json& patch, const std::string& op, const std::string& path) {
  for (const auto& operation : patch) {
    if (operation["op"] == op && operation["path"] == path) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a deployment CREATE is patched to the defaulted object, and a second pass adds nothing", "[mutate]") {
  const json object = deployment();
  const Answer answer = call("/mutate?timeout=10s", review("apps", "Deployment", "CREATE", object));
  REQUIRE(answer.status == 200);
  CHECK(answer.response["uid"] == "e911857d-c318-11e8-bbad-025000000001");
  CHECK(answer.response["allowed"] == true);
  CHECK(answer.response["patchType"] == "JSONPatch");
  const json patched = apply_patch(object, answer);
  CHECK(patched == policy::apply_defaults(object, policy::WorkloadKind::kDeployment, "shop", test_policy()).object);
  CHECK(patched["spec"]["template"]["spec"]["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname");
  CHECK_FALSE(answer.response["warnings"].empty());

  const Answer again = call("/mutate", review("apps", "Deployment", "CREATE", patched));
  CHECK(again.response["allowed"] == true);
  CHECK_FALSE(again.response.contains("patch"));
  CHECK_FALSE(again.response.contains("patchType"));
}

TEST_CASE("the patch equals a whole-object json::diff of the defaulted object", "[mutate]") {
  json bare_pod = replicaset_pod();
  bare_pod["metadata"].erase("ownerReferences");
  bare_pod["spec"].erase("priorityClassName");
  json unannotated = deployment();
  unannotated["metadata"].erase("labels");
  struct Row {
    const char* name;
    std::string group, kind;
    json object;
  };
  const Row rows[] = {{"deployment", "apps", "Deployment", deployment()},
                      {"statefulset", "apps", "StatefulSet", statefulset()},
                      {"bare pod", "", "Pod", bare_pod},
                      {"no labels or annotations", "apps", "Deployment", unannotated}};
  for (const auto& row : rows) {
    INFO(row.name);
    const auto request = decode_review(review(row.group, row.kind, "CREATE", row.object).dump());
    REQUIRE(request.ok());
    const auto kind = policy::workload_kind(row.group, row.kind);
    const auto defaulted = policy::apply_defaults(request->object, kind, request->ns, test_policy());
    const auto patch = mutate(*request, test_policy()).patch;
    CHECK_FALSE(patch.empty());
    CHECK(patch == json::diff(request->object, defaulted.object));
  }
}

TEST_CASE("missing parents are created whole and existing ones are descended into", "[mutate]") {
  const Answer deployment_answer = call("/mutate", review("apps", "Deployment", "CREATE", deployment()));
  // No annotations on the object: the whole map is added, never a child of a missing parent.
  CHECK(has_op(deployment_answer.patch, "add", "/metadata/annotations"));
  CHECK(has_op(deployment_answer.patch, "add", "/spec/template/spec/topologySpreadConstraints"));
  CHECK(has_op(deployment_answer.patch, "add", "/spec/template/spec/containers/0/resources/requests"));

  const json object = statefulset();
  const Answer answer = call("/mutate", review("apps", "StatefulSet", "CREATE", object));
  // Existing annotations: one key added, its '/' escaped as ~1 (RFC 6901).
  CHECK(has_op(answer.patch, "add", "/metadata/annotations/ballast.dev~1applied-tier"));
  // nodeAffinity exists, so anti-affinity goes beside it rather than replacing `affinity`.
  CHECK(has_op(answer.patch, "add", "/spec/template/spec/affinity/podAntiAffinity"));
  CHECK(has_op(answer.patch, "add", "/spec/template/spec/containers/0/resources"));
  const json patched = apply_patch(object, answer);
  CHECK(patched["spec"]["template"]["spec"]["affinity"]["nodeAffinity"] ==
        object["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]);
  CHECK(patched["spec"]["volumeClaimTemplates"] == object["spec"]["volumeClaimTemplates"]);
  CHECK(patched["metadata"]["annotations"]["ballast.dev/applied-tier"] == "stateful");
  CHECK_FALSE(call("/mutate", review("apps", "StatefulSet", "CREATE", patched)).response.contains("patch"));
}

TEST_CASE("a stale applied-tier annotation is replaced through an escaped path", "[mutate]") {
  json object = statefulset();
  object["metadata"]["annotations"]["ballast.dev/applied-tier"] = "standard";
  object["metadata"]["annotations"]["example.com~odd/key"] = "kept";
  const Answer answer = call("/mutate", review("apps", "StatefulSet", "CREATE", object));
  CHECK(has_op(answer.patch, "replace", "/metadata/annotations/ballast.dev~1applied-tier"));
  const json patched = apply_patch(object, answer);
  CHECK(patched["metadata"]["annotations"]["example.com~odd/key"] == "kept");
}

TEST_CASE("spread constraints are appended to an existing list", "[mutate]") {
  json object = deployment();
  object["spec"]["template"]["spec"]["topologySpreadConstraints"] = json::parse(R"json([{"maxSkew": 1,
      "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
      "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}}}])json");
  const Answer answer = call("/mutate", review("apps", "Deployment", "CREATE", object));
  const json patched = apply_patch(object, answer);
  CHECK(patched["spec"]["template"]["spec"]["topologySpreadConstraints"].size() == 2);
  CHECK(patched["spec"]["template"]["spec"]["topologySpreadConstraints"][0] ==
        object["spec"]["template"]["spec"]["topologySpreadConstraints"][0]);
}

TEST_CASE("a dry run gets the same patch as the real request", "[mutate]") {
  const Answer real = call("/mutate", review("apps", "Deployment", "CREATE", deployment()));
  const Answer dry = call("/mutate", review("apps", "Deployment", "CREATE", deployment(), nullptr, "", true));
  CHECK(dry.patch == real.patch);
  CHECK_FALSE(dry.patch.is_null());
}

TEST_CASE("requests that must not be mutated are allowed without a patch", "[mutate]") {
  const json scale = json::parse(R"json({"kind": "Scale", "apiVersion": "autoscaling/v1",
      "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 5}, "status": {"replicas": 3}})json");
  json scale_review = review("autoscaling", "Scale", "UPDATE", scale, scale, "scale");
  scale_review["request"]["resource"] = {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}};
  json template_unchanged = deployment();
  template_unchanged["spec"]["replicas"] = 7;
  json annotated = deployment();
  annotated["metadata"]["annotations"] = {{"note", "x"}};
  json pod = replicaset_pod();
  json bare_pod_update = replicaset_pod();
  bare_pod_update["metadata"].erase("ownerReferences");
  struct Row {
    const char* name;
    json body;
  };
  const Row rows[] = {
      {"/scale subresource", scale_review},
      {"deployment UPDATE with an unchanged template",
       review("apps", "Deployment", "UPDATE", template_unchanged, deployment())},
      {"metadata-only UPDATE", review("apps", "Deployment", "UPDATE", annotated, deployment())},
      {"pod created by a ReplicaSet", review("", "Pod", "CREATE", pod)},
      {"pod UPDATE", review("", "Pod", "UPDATE", bare_pod_update, bare_pod_update)},
      {"DELETE", review("apps", "Deployment", "DELETE", nullptr, deployment())},
      {"a kind ballast does not default", review("apps", "DaemonSet", "CREATE", deployment())},
      {"status subresource", review("apps", "Deployment", "UPDATE", deployment(), deployment(), "status")},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    const Answer answer = call("/mutate", row.body);
    REQUIRE(answer.status == 200);
    CHECK(answer.response["allowed"] == true);
    CHECK_FALSE(answer.response.contains("patch"));
    CHECK_FALSE(answer.response.contains("patchType"));
  }
}

TEST_CASE("a deployment UPDATE that changes the template is defaulted", "[mutate]") {
  json changed = deployment();
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28";
  const Answer answer = call("/mutate", review("apps", "Deployment", "UPDATE", changed, deployment()));
  CHECK(answer.response["patchType"] == "JSONPatch");
  CHECK(apply_patch(changed, answer)["spec"]["template"]["spec"].contains("topologySpreadConstraints"));

  // Re-applying a manifest without the defaults restores them exactly: no rollout.
  const json live = apply_patch(deployment(), call("/mutate", review("apps", "Deployment", "CREATE", deployment())));
  const Answer reapplied = call("/mutate", review("apps", "Deployment", "UPDATE", deployment(), live));
  CHECK(apply_patch(deployment(), reapplied)["spec"]["template"] == live["spec"]["template"]);
}

TEST_CASE("validation denies escalation with the reason and allows the rest", "[validate]") {
  json escalating = deployment();
  escalating["spec"]["template"]["spec"]["priorityClassName"] = "system-cluster-critical";
  const Answer denied = call("/validate", review("apps", "Deployment", "CREATE", escalating));
  REQUIRE(denied.status == 200);
  CHECK(denied.response["uid"] == "e911857d-c318-11e8-bbad-025000000001");
  CHECK(denied.response["allowed"] == false);
  CHECK(denied.response["status"]["code"] == 403);
  CHECK_THAT(denied.response["status"]["message"].get<std::string>(), Catch::Contains("system-cluster-critical"));
  CHECK_FALSE(denied.response.contains("patchType"));

  const Answer allowed = call("/validate", review("apps", "Deployment", "CREATE", deployment()));
  CHECK(allowed.response["allowed"] == true);
  CHECK_FALSE(allowed.response.contains("patch"));
  const Answer deleted = call("/validate", review("apps", "Deployment", "DELETE", nullptr, escalating));
  CHECK(deleted.response["allowed"] == true);
}

TEST_CASE("routes, methods and bodies that are not reviews get HTTP errors", "[routes]") {
  const auto status = [](const std::string& method, const std::string& target, const std::string& body) {
    return handle_request(net::HttpRequest{method, target, kJson, body}, test_policy());
  };
  CHECK(status("GET", "/healthz", "").response.status == 200);
  CHECK(status("GET", "/mutate", "").response.status == 405);
  CHECK(status("POST", "/nothing", "{}").response.status == 404);
  const auto bad = status("POST", "/validate?timeout=3s", "{not json");
  CHECK(bad.response.status == 400);
  CHECK(bad.route == "validate");
  CHECK(bad.result == "bad_request");
  CHECK_THAT(bad.response.body, Catch::Contains("not valid JSON"));
  const auto wrong_version = status("POST", "/mutate",
                                    R"({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview",
                                        "request": {"uid": "u"}})");
  CHECK(wrong_version.response.status == 400);
  CHECK_THAT(wrong_version.response.body, Catch::Contains("apiVersion"));
}

TEST_CASE("a review nested 150,000 levels deep gets 400 naming the limit on both routes", "[routes][nesting]") {
  // The 300 KB body that overflowed the stack of a webhook thread (issue 16).
  const std::string depth(150'000, '[');
  const std::string body = R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u",
      "kind": {"group": "apps", "version": "v1", "kind": "Deployment"}, "operation": "CREATE",
      "object": {"kind": "Deployment", "spec": {"template": {"spec": {"x": )" +
                           depth + std::string(150'000, ']') + "}}}}}}";
  REQUIRE(body.size() > 300'000);
  for (const char* route : {"/mutate", "/validate"}) {
    INFO(route);
    const auto handled = handle_request(net::HttpRequest{"POST", route, kJson, body}, test_policy());
    CHECK(handled.response.status == 400);
    CHECK(handled.result == "bad_request");
    CHECK_THAT(handled.response.body, Catch::Contains("deeper than 128 levels"));
  }
}

TEST_CASE("a review nested just under the limit is decided as usual", "[mutate][nesting]") {
  // The walks (copy, compare, diff, dump) at the deepest accepted document.
  json deep = json::array();
  for (size_t i = 0; i < kMaxNestingDepth - 12; ++i) deep = json::array({std::move(deep)});
  json object = deployment();
  object["spec"]["template"]["spec"]["containers"][0]["args"] = deep;
  const std::string body = json{{"apiVersion", "admission.k8s.io/v1"},
                                {"kind", "AdmissionReview"},
                                {"request",
                                 {{"uid", "u"},
                                  {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
                                  {"operation", "CREATE"},
                                  {"namespace", "shop"},
                                  {"object", object}}}}
                               .dump();
  const auto handled = handle_request(net::HttpRequest{"POST", "/mutate", kJson, body}, test_policy());
  CHECK(handled.response.status == 200);
  CHECK(handled.result == "patched");
}

TEST_CASE("a review must come as application/json, else 415 with the reason", "[routes]") {
  const std::string body = R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
      "request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "DELETE"}})";
  struct Row {
    std::map<std::string, std::string> headers;
    int status;
  };
  const Row rows[] = {
      {kJson, 200},
      {{{"content-type", "application/json; charset=utf-8"}}, 200},
      {{{"content-type", "Application/JSON"}}, 200},
      {{}, 415},
      {{{"content-type", "text/plain"}}, 415},
      {{{"content-type", "application/x-www-form-urlencoded"}}, 415},
      {{{"content-type", "application/jsonx"}}, 415},
  };
  for (const auto& row : rows) {
    for (const char* route : {"/mutate", "/validate"}) {
      const auto handled = handle_request(net::HttpRequest{"POST", route, row.headers, body}, test_policy());
      INFO(route << " " << (row.headers.empty() ? "(none)" : row.headers.begin()->second));
      CHECK(handled.response.status == row.status);
      if (row.status == 415) {
        CHECK(handled.result == "bad_request");
        CHECK_THAT(handled.response.body, Catch::Contains("Content-Type must be application/json"));
      }
    }
  }
}

TEST_CASE("a cronjob's job template is patched on CREATE and on an UPDATE that changes it, not otherwise", "[mutate]") {
  const json cron = json::parse(R"json({
    "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": "shop"},
    "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
      "metadata": {"labels": {"app": "nightly"}},
      "spec": {"restartPolicy": "OnFailure", "containers": [{"name": "dump", "image": "dump:1"}]}}}}}
  })json");
  const Answer created = call("/mutate", review("batch", "CronJob", "CREATE", cron));
  REQUIRE(created.response["patchType"] == "JSONPatch");
  const json live = apply_patch(cron, created);
  const json& spec = live["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  CHECK(spec["priorityClassName"] == "platform-normal");
  CHECK(spec["containers"][0]["resources"]["requests"]["cpu"] == "50m");
  CHECK_FALSE(spec.contains("topologySpreadConstraints"));

  json rescheduled = live;
  rescheduled["spec"]["schedule"] = "0 4 * * *";
  CHECK_FALSE(call("/mutate", review("batch", "CronJob", "UPDATE", rescheduled, live)).response.contains("patch"));
  json new_image = cron;
  new_image["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["image"] = "dump:2";
  const Answer updated = call("/mutate", review("batch", "CronJob", "UPDATE", new_image, live));
  CHECK(apply_patch(new_image, updated)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["priorityClassName"] ==
        "platform-normal");
}
