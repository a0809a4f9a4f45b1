#include "scaler/scaled_object_file.h"

#include <catch2/catch.hpp>

using ballast::scaler::read_scaled_object_triggers;

TEST_CASE("every external trigger of every ScaledObject is read, with its index and replica bounds",
          "[scaled_object_file]") {
  const auto triggers = read_scaled_object_triggers(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: stt-worker, namespace: ai-services}
spec:
  minReplicaCount: 1
  maxReplicaCount: 12
  triggers:
    - type: cpu
      metadata: {value: "60"}
    - type: external-push
      metadata: {source: kafka, lagThreshold: 5, topic: stt}
---
kind: ScaledObject
metadata: {name: plain}
spec:
  triggers:
    - type: external
      metadata: {source: sessions}
)");
  REQUIRE(triggers.ok());
  REQUIRE(triggers->size() == 2);
  const auto& stt = (*triggers)[0];
  CHECK(stt.namespace_name == "ai-services");
  CHECK(stt.name == "stt-worker");
  CHECK(stt.index == 1);
  CHECK(stt.type == "external-push");
  CHECK(stt.metadata.at("lagThreshold") == "5");
  CHECK(stt.min_replicas == 1);
  CHECK(stt.max_replicas == 12);
  const auto& plain = (*triggers)[1];
  CHECK(plain.namespace_name == "default");
  CHECK(plain.min_replicas == 0);
  CHECK(plain.max_replicas == 100);
}

TEST_CASE("a malformed ScaledObject is refused naming the document and the field", "[scaled_object_file]") {
  struct Case {
    const char* yaml;
    const char* message;
  };
  const Case cases[] = {
      {"kind: ScaledObject\nmetadata: {name: a}\nspec: {triggers: {type: external}}\n",
       "document 1 (ScaledObject default/a): spec.triggers: must be a list"},
      {"kind: ScaledObject\nmetadata: {name: a}\nspec:\n  triggers:\n    - type: external\n      metadata: {source: [x]}\n",
       "spec.triggers[0].metadata.source: must be a string"},
      {"kind: ScaledObject\nmetadata: {name: a}\nspec: {minReplicaCount: many, triggers: []}\n",
       "spec.minReplicaCount: must be an integer"},
      {"kind: ScaledObject\nmetadata: {name: a}\nspec: {maxReplicaCount: -1, triggers: []}\n",
       "spec.maxReplicaCount: must not be negative"},
      {"kind: ScaledObject\nspec: {triggers: []}\n", "document 1: a ScaledObject without metadata.name"},
      {"kind: ScaledObject\nmetadata: {name: a}\n", "document 1 (ScaledObject default/a): spec: must be a mapping"},
      {"kind: ScaledObject\nmetadata: {name: a}\nspec: {triggers: [external]}\n", "spec.triggers[0]: must be a mapping"},
      {"---\n{}\n---\nkind: ScaledObject\nkind: ScaledObject\n", "document 2: "},
      {"kind: [unclosed\n", "not YAML: "},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    const auto triggers = read_scaled_object_triggers(c.yaml);
    REQUIRE_FALSE(triggers.ok());
    CHECK_THAT(triggers.error().message, Catch::Contains(c.message));
  }
}

TEST_CASE("a ScaledObject without an external trigger yields none", "[scaled_object_file]") {
  const auto triggers = read_scaled_object_triggers("kind: ScaledObject\nmetadata: {name: a}\nspec:\n  triggers:\n"
                                                    "    - type: cpu\n      metadata: {value: \"60\"}\n");
  REQUIRE(triggers.ok());
  CHECK(triggers->empty());
}
