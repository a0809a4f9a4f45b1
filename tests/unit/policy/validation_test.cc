#include "policy/validation.h"

#include <catch2/catch.hpp>

using namespace ballast::policy;
using json = nlohmann::json;

namespace {

json workload_with_class(const std::string& priority_class) {
  json object = json::parse(R"json({"metadata": {"name": "web"}, "spec": {"selector": {"matchLabels": {"app": "web"}},
      "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web"}]}}}})json");
  if (!priority_class.empty()) object["spec"]["template"]["spec"]["priorityClassName"] = priority_class;
  return object;
}

// A vector, not a json: a braced single trigger would otherwise copy-initialize the object itself.
json scaled_object(const std::vector<json>& triggers, std::optional<int> min_replicas = std::nullopt) {
  json object = {{"apiVersion", "keda.sh/v1alpha1"},
                 {"kind", "ScaledObject"},
                 {"metadata", {{"name", "worker"}, {"namespace", "shop"}}},
                 {"spec", {{"scaleTargetRef", {{"name", "worker"}}}, {"triggers", json(triggers)}}}};
  if (min_replicas) object["spec"]["minReplicaCount"] = *min_replicas;
  return object;
}

json sessions_trigger(const std::string& type = "external-push") {
  return {{"type", type},
          {"metadata",
           {{"scalerAddress", "ballast.ballast-system.svc:9090"}, {"source", "sessions"}, {"counter", "active"},
            {"threshold", "10"}}}};
}

Verdict review_scaled_object(const json& object, const json* old_object = nullptr) {
  return validate_object({"keda.sh", "ScaledObject", "shop", object, old_object}, default_policy());
}

bool has_warning(const Verdict& verdict, const std::string& text) {
  for (const auto& warning : verdict.warnings) {
    if (warning.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("restricted priority classes are denied outside the allowed namespaces", "[validation]") {
  const TierPolicy policy = default_policy();
  const json pod = json::parse(R"({"metadata": {"name": "p"}, "spec": {"priorityClassName": "system-node-critical"}})");
  const json cronjob = json::parse(R"json({"spec": {"jobTemplate": {"spec": {"template": {"spec":
      {"priorityClassName": "platform-infra-critical"}}}}}})json");
  struct Row {
    const char* name;
    const char* group;
    const char* kind;
    const char* ns;
    json object;
    bool allowed;
  };
  const Row rows[] = {
      {"deployment escalating", "apps", "Deployment", "shop", workload_with_class("platform-infra-critical"), false},
      {"statefulset with a system class", "apps", "StatefulSet", "shop", workload_with_class("system-cluster-critical"),
       false},
      {"daemonset escalating", "apps", "DaemonSet", "shop", workload_with_class("system-node-critical"), false},
      {"job escalating", "batch", "Job", "shop", workload_with_class("platform-infra-critical"), false},
      {"cronjob escalating", "batch", "CronJob", "shop", cronjob, false},
      {"bare pod escalating", "", "Pod", "shop", pod, false},
      {"pod in kube-system", "", "Pod", "kube-system", pod, true},
      {"infra class in monitoring", "apps", "Deployment", "monitoring", workload_with_class("platform-infra-critical"),
       true},
      {"an ordinary class", "apps", "Deployment", "shop", workload_with_class("platform-critical"), true},
      {"no class", "apps", "Deployment", "shop", workload_with_class(""), true},
      {"a kind without pods", "", "ConfigMap", "shop", json::parse(R"({"data": {"priorityClassName": "system-x"}})"),
       true},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    const Verdict verdict = validate_object({row.group, row.kind, row.ns, row.object, nullptr}, policy);
    CHECK(verdict.allowed == row.allowed);
    if (!row.allowed) {
      CHECK_THAT(verdict.reason, Catch::Contains("priorityClassName"));
      CHECK_THAT(verdict.reason, Catch::Contains(row.ns));
    }
  }
}

TEST_CASE("an update keeping an already admitted class is allowed; changing to one is not", "[validation]") {
  const TierPolicy policy = default_policy();
  const json escalated = workload_with_class("platform-infra-critical");
  const json ordinary = workload_with_class("platform-normal");
  CHECK(validate_object({"apps", "Deployment", "shop", escalated, &escalated}, policy).allowed);
  CHECK_FALSE(validate_object({"apps", "Deployment", "shop", escalated, &ordinary}, policy).allowed);
}

TEST_CASE("valid ballast triggers are admitted", "[validation]") {
  const json prometheus = {{"type", "external"},
                           {"metadata",
                            {{"scalerAddress", "ballast.ballast-system.svc:9090"},
                             {"source", "prometheus"},
                             {"serverAddress", "http://mimir:8080/prometheus"},
                             {"query", "sum(rate(http_requests_total[1m]))"},
                             {"threshold", "100"}}}};
  const Verdict verdict = review_scaled_object(scaled_object({sessions_trigger(), prometheus}, 1));
  CHECK(verdict.allowed);
  CHECK(verdict.warnings.empty());
}

TEST_CASE("broken ballast trigger metadata is denied naming the trigger and the key", "[validation]") {
  struct Row {
    const char* name;
    json trigger;
    const char* expected;
  };
  json missing_threshold = sessions_trigger();
  missing_threshold["metadata"].erase("threshold");
  json bad_number = sessions_trigger();
  bad_number["metadata"]["threshold"] = "ten";
  json typo = sessions_trigger();
  typo["metadata"]["treshold"] = "10";
  json no_source = sessions_trigger();
  no_source["metadata"].erase("source");
  json unknown_source = sessions_trigger();
  unknown_source["metadata"]["source"] = "redis";
  json by_source_only = sessions_trigger("external");
  by_source_only["metadata"].erase("scalerAddress");
  by_source_only["metadata"].erase("counter");
  const Row rows[] = {
      {"missing threshold", missing_threshold, "spec.triggers[1].metadata: threshold"},
      {"not a number", bad_number, "spec.triggers[1].metadata: threshold must be a number"},
      {"misspelt key", typo, "spec.triggers[1].metadata: unknown key \"treshold\""},
      {"ballast's address without a source", no_source, "spec.triggers[1].metadata: source is required"},
      {"unknown source", unknown_source, "spec.triggers[1].metadata: source must be"},
      {"a source key without ballast's address", by_source_only, "spec.triggers[1].metadata: counter"},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    const Verdict verdict = review_scaled_object(scaled_object({sessions_trigger(), row.trigger}, 1));
    CHECK_FALSE(verdict.allowed);
    CHECK_THAT(verdict.reason, Catch::StartsWith(row.expected));
  }
}

TEST_CASE("triggers that are not ballast's are not checked", "[validation]") {
  const json kafka = {{"type", "kafka"}, {"metadata", {{"bootstrapServers", "kafka:9092"}, {"source", "x"}}}};
  const json other_external = {{"type", "external"}, {"metadata", {{"scalerAddress", "other.svc:9090"}, {"foo", "1"}}}};
  const Verdict verdict = review_scaled_object(scaled_object({kafka, other_external}, 1));
  CHECK(verdict.allowed);
}

TEST_CASE("values KEDA reads from the environment turn failures into warnings", "[validation]") {
  json trigger = sessions_trigger();
  trigger["metadata"].erase("threshold");
  trigger["metadata"]["thresholdFromEnv"] = "SESSIONS_THRESHOLD";
  const Verdict verdict = review_scaled_object(scaled_object({trigger}, 1));
  CHECK(verdict.allowed);
  CHECK(has_warning(verdict, "spec.triggers[0].metadata: threshold"));
}

TEST_CASE("a kafka trigger copied from KEDA with keys ballast ignores is refused, even beside FromEnv keys",
          "[validation]") {
  const auto kafka = [](std::initializer_list<std::pair<const char*, const char*>> extra) {
    json trigger = {{"type", "external-push"},
                    {"metadata",
                     {{"scalerAddress", "ballast.ballast-system.svc:9090"},
                      {"source", "kafka"},
                      {"bootstrapServers", "redpanda:9092"},
                      {"consumerGroup", "stt"},
                      {"topic", "speech"}}}};
    for (const auto& [key, value] : extra) trigger["metadata"][key] = value;
    return trigger;
  };
  struct Row {
    json trigger;
    const char* expected;  // empty: admitted
  };
  const Row rows[] = {
      {kafka({}), ""},
      {kafka({{"sasl", "plaintext"}}), "spec.triggers[0].metadata: sasl: KEDA does not forward"},
      {kafka({{"tls", "enable"}}), "tls: KEDA does not forward"},
      {kafka({{"username", "u"}, {"password", "p"}}), "KEDA does not forward TriggerAuthentication secrets"},
      {kafka({{"version", "1.0.0"}}), "version has no meaning here"},
      {kafka({{"fullMetadata", "false"}}), "fullMetadata has no meaning here"},
      // A *FromEnv key otherwise softens errors to warnings; here it is itself the problem.
      {kafka({{"topicFromEnv", "TOPIC"}}), "topicFromEnv: ballast does not read *FromEnv keys"},
      {kafka({{"partitionLimitation", "  "}}), ""},
  };
  for (const auto& row : rows) {
    INFO(row.trigger.dump());
    for (const char* kind : {"ScaledObject", "ScaledJob"}) {
      INFO(kind);
      json object = scaled_object({row.trigger}, 1);
      object["kind"] = kind;
      const Verdict verdict = validate_object({"keda.sh", kind, "shop", object, nullptr}, default_policy());
      CHECK(verdict.allowed == (std::string(row.expected).empty()));
      CHECK_THAT(verdict.reason, Catch::Contains(row.expected));
    }
  }
}

TEST_CASE("ScaledJobs' ballast triggers are checked like ScaledObjects', without the push hint", "[validation]") {
  json broken = sessions_trigger("external");
  broken["metadata"]["threshold"] = "ten";
  json job = scaled_object({broken}, 0);
  job["kind"] = "ScaledJob";
  job["spec"].erase("scaleTargetRef");
  job["spec"]["jobTargetRef"] = {{"template", {{"spec", {{"containers", json::array()}}}}}};
  const Verdict denied = validate_object({"keda.sh", "ScaledJob", "shop", job, nullptr}, default_policy());
  CHECK_FALSE(denied.allowed);
  CHECK_THAT(denied.reason, Catch::Contains("spec.triggers[0].metadata: threshold"));

  job["spec"]["triggers"][0] = sessions_trigger("external");
  const Verdict admitted = validate_object({"keda.sh", "ScaledJob", "shop", job, nullptr}, default_policy());
  CHECK(admitted.allowed);
  CHECK_FALSE(has_warning(admitted, "external-push"));
}

TEST_CASE("risky trigger choices are allowed with a warning", "[validation]") {
  const json nulls = {{"type", "external-push"},
                      {"metadata",
                       {{"source", "prometheus"},
                        {"serverAddress", "http://mimir:8080/prometheus"},
                        {"query", "up"},
                        {"threshold", "1"},
                        {"ignoreNullValues", "True"}}}};
  const Verdict null_verdict = review_scaled_object(scaled_object({nulls}, 1));
  CHECK(null_verdict.allowed);
  CHECK(has_warning(null_verdict, "ignoreNullValues"));

  struct Row {
    const char* type;
    std::optional<int> min_replicas;
    bool warns;
  };
  const Row rows[] = {{"external", std::nullopt, true},  // KEDA's default minReplicaCount is 0
                      {"external", 0, true},
                      {"external", 1, false},
                      {"external-push", 0, false}};
  for (const auto& row : rows) {
    INFO(row.type << " min " << row.min_replicas.value_or(-1));
    const Verdict verdict = review_scaled_object(scaled_object({sessions_trigger(row.type)}, row.min_replicas));
    CHECK(verdict.allowed);
    CHECK(has_warning(verdict, "external-push") == row.warns);
  }
}

TEST_CASE("an update that leaves broken triggers unchanged is allowed, so KEDA can finish its work", "[validation]") {
  json broken = sessions_trigger();
  broken["metadata"].erase("threshold");
  const json before = scaled_object({broken}, 1);
  json after = before;
  after["metadata"]["finalizers"] = json::array({"finalizer.keda.sh"});
  const Verdict unchanged = review_scaled_object(after, &before);
  CHECK(unchanged.allowed);
  CHECK(has_warning(unchanged, "threshold"));

  json edited = after;
  edited["spec"]["triggers"][0]["metadata"]["counter"] = "other";
  CHECK_FALSE(review_scaled_object(edited, &before).allowed);
}
