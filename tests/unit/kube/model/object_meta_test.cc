#include "kube/model/object_meta.h"

#include <catch2/catch.hpp>

#include "kube/model/json_lookup.h"

using namespace ballast::kube;
using json = nlohmann::json;

TEST_CASE("object metadata reads as the apiserver writes it", "[object-meta]") {
  const json pod = json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "resourceVersion": "42", "generation": 3,
                 "labels": {"app": "web"}, "annotations": {"note": "x", "count": 2},
                 "deletionTimestamp": "2026-01-01T00:00:00Z",
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u-0",
                                      "controller": true, "blockOwnerDeletion": true},
                                     {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u-2"}, 7]}})");
  CHECK(name(pod) == "web-1");
  CHECK(namespace_of(pod) == "shop");
  CHECK(uid(pod) == "u-1");
  CHECK(resource_version(pod) == "42");
  CHECK(generation(pod) == 3);
  CHECK(labels(pod) == Labels{{"app", "web"}});
  CHECK(annotations(pod) == Labels{{"note", "x"}});  // non-string values are skipped
  CHECK(label(pod, "app") == "web");
  CHECK(annotation(pod, "note") == "x");
  CHECK(annotation(pod, "count").empty());
  CHECK(is_being_deleted(pod));

  const auto owners = owner_references(pod);
  REQUIRE(owners.size() == 2);  // the entry that is not an object is skipped
  CHECK(owners[1].kind == "ConfigMap");
  CHECK_FALSE(owners[1].controller);
  const auto controller = controller_of(pod);
  REQUIRE(controller.has_value());
  CHECK(controller->kind == "ReplicaSet");
  CHECK(controller->name == "web-abc");
  CHECK(controller->block_owner_deletion);
  CHECK(controller->to_json() == pod["metadata"]["ownerReferences"][0]);
}

TEST_CASE("a missing or wrongly typed metadata field reads as empty", "[object-meta]") {
  for (const char* text : {R"({})", R"({"metadata": null})", R"({"metadata": []})", R"([1, 2])", R"("pod")",
                           R"({"metadata": {"name": 1, "namespace": null, "labels": [], "generation": "3",
                                            "ownerReferences": {}}})"}) {
    INFO(text);
    const json object = json::parse(text);
    CHECK(name(object).empty());
    CHECK(namespace_of(object).empty());
    CHECK(generation(object) == 0);
    CHECK(labels(object).empty());
    CHECK(label(object, "app").empty());
    CHECK_FALSE(is_being_deleted(object));
    CHECK(owner_references(object).empty());
    CHECK_FALSE(controller_of(object).has_value());
  }
}

TEST_CASE("json lookups step through objects and stop at any other shape", "[json-lookup]") {
  const json object = json::parse(R"({"spec": {"template": {"metadata": {"labels": {"app": "web", "n": 3}}}},
                                      "list": [1], "nothing": null})");
  CHECK(path(object, {"spec", "template", "metadata"}) != nullptr);
  CHECK(path(object, {"spec", "missing", "metadata"}) == nullptr);
  CHECK(path(object, {"list", "0"}) == nullptr);
  CHECK(child(object, "nothing") == nullptr);
  CHECK(string_at(object, {"spec", "template", "metadata", "labels", "app"}) == "web");
  CHECK(string_at(object, {"spec", "template", "metadata", "labels", "n"}).empty());
  CHECK(string_map(path(object, {"spec", "template", "metadata", "labels"})) == Labels{{"app", "web"}});
  CHECK(string_map(nullptr).empty());
  const json not_object = json::array();
  CHECK(string_map(&not_object).empty());
}
