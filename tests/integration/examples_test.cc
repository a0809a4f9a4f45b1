// Every file under examples/ must be something ballast accepts: ScaledObject triggers go
// through the scaler's own metadata validator, NodeGroups through the CRD's OpenAPI schema
// (a small checker below), the config through the config loader and the policy through
// `ballast check-config`. The repository root is found from this file's path.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>


#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include "core/config.h"
#include "fakes/shell.h"
#include "scaler/trigger_spec.h"

namespace fs = std::filesystem;

namespace {

fs::path repo_root() {
  // tests/integration/examples_test.cc → the repository root, two folders up.
  return fs::weakly_canonical(fs::path(__FILE__)).parent_path().parent_path().parent_path();
}

struct Document {
  std::string file;
  YAML::Node node;
};

// Every YAML document of examples/*.yaml, in file order.
std::vector<Document> example_documents() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(repo_root() / "examples")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Document> documents;
  for (const auto& file : files) {
    for (const auto& node : YAML::LoadAllFromFile(file.string())) {
      if (!node.IsNull()) documents.push_back({file.filename().string(), node});
    }
  }
  return documents;
}

std::vector<Document> documents_of_kind(const std::string& kind) {
  std::vector<Document> out;
  for (auto& document : example_documents()) {
    if (document.node.IsMap() && document.node["kind"] && document.node["kind"].as<std::string>() == kind) {
      out.push_back(document);
    }
  }
  return out;
}

std::string name_of(const YAML::Node& object) {
  const YAML::Node metadata = object["metadata"];
  std::string name = metadata["name"].as<std::string>("");
  if (metadata["namespace"]) name = metadata["namespace"].as<std::string>() + "/" + name;
  return name;
}

// ---- a small OpenAPI v3 (structural schema) checker: enough for the NodeGroup CRD ----

// YAML 1.2 core schema for plain scalars; quoted scalars are strings.
std::string yaml_type(const YAML::Node& node) {
  if (node.IsMap()) return "object";
  if (node.IsSequence()) return "array";
  if (node.IsNull()) return "null";
  if (node.Tag() == "!") return "string";  // quoted in the file
  const std::string text = node.Scalar();
  static const std::regex kInteger(R"([-+]?[0-9]+)");
  static const std::regex kNumber(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(text, kInteger)) return "integer";
  if (std::regex_match(text, kNumber)) return "number";
  if (text == "true" || text == "false") return "boolean";
  return "string";
}

bool type_matches(const std::string& wanted, const std::string& actual) {
  return wanted == actual || (wanted == "number" && actual == "integer");
}

void check_schema(const YAML::Node& schema, const YAML::Node& value, const std::string& path,
                  std::vector<std::string>& errors) {
  const std::string actual = yaml_type(value);
  if (schema["anyOf"]) {
    bool any = false;
    for (const auto& branch : schema["anyOf"]) {
      std::vector<std::string> branch_errors;
      check_schema(branch, value, path, branch_errors);
      any = any || branch_errors.empty();
    }
    if (!any) errors.push_back(path + ": matches none of anyOf");
  }
  if (schema["x-kubernetes-int-or-string"] && schema["x-kubernetes-int-or-string"].as<bool>()) {
    if (actual != "integer" && actual != "string") errors.push_back(path + ": expected an integer or a string");
  } else if (schema["type"]) {
    const auto wanted = schema["type"].as<std::string>();
    if (!type_matches(wanted, actual)) {
      errors.push_back(path + ": expected " + wanted + ", got " + actual);
      return;
    }
  }
  if (schema["enum"]) {
    bool found = false;
    for (const auto& option : schema["enum"]) found = found || option.as<std::string>() == value.Scalar();
    if (!found) errors.push_back(path + ": \"" + value.Scalar() + "\" is not one of the enum values");
  }
  if (value.IsScalar()) {
    if ((actual == "integer" || actual == "number")) {
      const double number = value.as<double>();
      if (schema["minimum"] && number < schema["minimum"].as<double>()) {
        errors.push_back(path + ": " + value.Scalar() + " is below the minimum " + schema["minimum"].Scalar());
      }
      if (schema["maximum"] && number > schema["maximum"].as<double>()) {
        errors.push_back(path + ": " + value.Scalar() + " is above the maximum " + schema["maximum"].Scalar());
      }
    }
    if (schema["minLength"] && value.Scalar().size() < schema["minLength"].as<size_t>()) {
      errors.push_back(path + ": shorter than minLength");
    }
    if (schema["pattern"] && !std::regex_search(value.Scalar(), std::regex(schema["pattern"].as<std::string>()))) {
      errors.push_back(path + ": \"" + value.Scalar() + "\" does not match " + schema["pattern"].as<std::string>());
    }
  }
  if (value.IsSequence()) {
    if (schema["minItems"] && value.size() < schema["minItems"].as<size_t>()) {
      errors.push_back(path + ": fewer than minItems");
    }
    if (schema["items"]) {
      for (size_t i = 0; i < value.size(); ++i) {
        check_schema(schema["items"], value[i], path + "[" + std::to_string(i) + "]", errors);
      }
    }
  }
  if (value.IsMap()) {
    if (schema["required"]) {
      for (const auto& key : schema["required"]) {
        if (!value[key.as<std::string>()]) errors.push_back(path + ": missing required " + key.as<std::string>());
      }
    }
    const YAML::Node properties = schema["properties"];
    const YAML::Node additional = schema["additionalProperties"];
    for (const auto& entry : value) {
      const auto key = entry.first.as<std::string>();
      const std::string child = path + "." + key;
      if (properties && properties[key]) {
        check_schema(properties[key], entry.second, child, errors);
      } else if (additional && additional.IsMap()) {
        check_schema(additional, entry.second, child, errors);
      } else if (properties || additional) {
        // The apiserver would prune it silently: in an example that is always a typo.
        errors.push_back(child + ": unknown field (pruned by the apiserver)");
      }
      // An object schema with neither (metadata) accepts anything.
    }
  }
}

YAML::Node nodegroup_schema() {
  const YAML::Node crd = YAML::LoadFile((repo_root() / "manifests/crds/nodegroups.ballast.dev.yaml").string());
  for (const auto& version : crd["spec"]["versions"]) {
    if (version["name"].as<std::string>() == "v1alpha1") return version["schema"]["openAPIV3Schema"];
  }
  FAIL("the CRD has no v1alpha1 version");
  return {};
}

std::vector<std::string> schema_errors(const YAML::Node& object) {
  std::vector<std::string> errors;
  check_schema(nodegroup_schema(), object, "", errors);
  return errors;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::set<std::string> policy_scaler_addresses() {
  std::set<std::string> out;
  for (const auto& address : YAML::LoadFile((repo_root() / "examples/policy.yaml").string())["scalerAddresses"]) {
    out.insert(address.as<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("the examples folder holds ScaledObjects, NodeGroups, a policy and a config") {
  std::map<std::string, int> kinds;
  for (const auto& document : example_documents()) {
    if (document.node["kind"]) ++kinds[document.node["kind"].as<std::string>()];
  }
  CHECK(kinds["ScaledObject"] >= 7);
  CHECK(kinds["NodeGroup"] == 3);
  CHECK(fs::exists(repo_root() / "examples/policy.yaml"));
  CHECK(fs::exists(repo_root() / "examples/ballast.yaml"));
}

TEST_CASE("every ballast trigger in the example ScaledObjects passes ballast's metadata validator") {
  const auto scaler_addresses = policy_scaler_addresses();
  int checked = 0;
  for (const auto& document : documents_of_kind("ScaledObject")) {
    const YAML::Node object = document.node;
    int index = 0;
    for (const auto& trigger : object["spec"]["triggers"]) {
      const std::string where = document.file + " " + name_of(object) + " trigger " + std::to_string(index++);
      const YAML::Node metadata = trigger["metadata"];
      if (!metadata || !metadata["source"]) continue;
      INFO(where);
      const auto type = trigger["type"].as<std::string>();
      CHECK((type == "external" || type == "external-push"));
      CHECK(scaler_addresses.count(metadata["scalerAddress"].as<std::string>("")) == 1);
      ballast::scaler::Metadata fields;
      for (const auto& entry : metadata) fields[entry.first.as<std::string>()] = entry.second.as<std::string>();
      const auto parsed = ballast::scaler::parse_trigger(fields);
      INFO("source " << fields["source"] << ": " << (parsed ? std::string("ok") : parsed.error().message));
      CHECK(parsed.ok());
      ++checked;
    }
  }
  CHECK(checked >= 8);
}

TEST_CASE("example ScaledObjects that scale to zero wake through external-push, the others keep two") {
  for (const auto& document : documents_of_kind("ScaledObject")) {
    const YAML::Node spec = document.node["spec"];
    INFO(name_of(document.node));
    const int min = spec["minReplicaCount"].as<int>(0);
    CHECK((min == 0 || min >= 2));
    if (min == 0) {
      bool push = false;
      for (const auto& trigger : spec["triggers"]) push = push || trigger["type"].as<std::string>() == "external-push";
      CHECK(push);
    }
    const YAML::Node behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"];
    REQUIRE(behavior);
    CHECK(behavior["scaleUp"]["stabilizationWindowSeconds"].as<int>() <
          behavior["scaleDown"]["stabilizationWindowSeconds"].as<int>());
  }
}

TEST_CASE("every auth profile a trigger names exists in examples/ballast.yaml") {
  const auto path = (repo_root() / "examples/ballast.yaml").string();
  const auto config = ballast::load_config_file(path, ballast::default_config());
  REQUIRE(config.ok());
  for (const auto& document : documents_of_kind("ScaledObject")) {
    for (const auto& trigger : document.node["spec"]["triggers"]) {
      if (!trigger["metadata"]["auth"]) continue;
      const auto profile = trigger["metadata"]["auth"].as<std::string>();
      INFO(name_of(document.node) << " names auth profile " << profile);
      CHECK(config->auth_profiles.count(profile) == 1);
    }
  }
}

// validate_config checks that every referenced file can be read, and the example names
// the paths where the chart mounts Secrets (/etc/ballast/...), which no test machine has.
// So: load the file exactly as `serve` would (every key, every auth profile), then point
// each file setting at a readable file and run the cross-field checks on the result.
TEST_CASE("examples/ballast.yaml loads as a config, with its auth profiles") {
  const auto path = (repo_root() / "examples/ballast.yaml").string();
  auto config = ballast::load_config_file(path, ballast::default_config());
  INFO((config ? std::string("ok") : config.error().message));
  REQUIRE(config.ok());
  CHECK(config->auth_profiles.size() == 3);
  CHECK(config->auth_profiles.at("redpanda").sasl_mechanism == "PLAIN");
  CHECK(config->auth_profiles.at("redpanda").tls);
  CHECK(config->auth_profiles.at("mimir").username == "platform");
  CHECK(config->sessions.token_file == "/etc/ballast/sessions/tokens");

  ballast::Config readable = *config;
  for (std::string* file : {&readable.sessions.token_file, &readable.webhook.tls_cert_file, &readable.webhook.tls_key_file,
                            &readable.policy_file}) {
    if (!file->empty()) *file = path;
  }
  for (auto& [name, profile] : readable.auth_profiles) {
    for (std::string* file : {&profile.password_file, &profile.bearer_token_file, &profile.ca_file, &profile.cert_file,
                              &profile.key_file}) {
      if (!file->empty()) *file = path;
    }
  }
  const auto valid = ballast::validate_config(readable);
  INFO((valid ? std::string("ok") : valid.error().message));
  CHECK(valid.ok());
}

TEST_CASE("example NodeGroups are valid against the CRD's OpenAPI schema") {
  const auto groups = documents_of_kind("NodeGroup");
  REQUIRE(groups.size() == 3);
  std::set<std::string> providers;
  for (const auto& document : groups) {
    INFO(document.file << " " << name_of(document.node));
    CHECK(document.node["apiVersion"].as<std::string>() == "ballast.dev/v1alpha1");
    const auto errors = schema_errors(document.node);
    INFO(joined(errors));
    CHECK(errors.empty());
    providers.insert(document.node["spec"]["provider"]["type"].as<std::string>());
  }
  CHECK(providers == std::set<std::string>{"contabo", "dispatch", "vpsie"});
}

TEST_CASE("the NodeGroup schema checker rejects what the apiserver would") {
  const YAML::Node good = documents_of_kind("NodeGroup").front().node;
  REQUIRE(schema_errors(good).empty());

  YAML::Node bad_provider = YAML::Clone(good);
  bad_provider["spec"]["provider"]["type"] = "hetzner";
  CHECK_FALSE(schema_errors(bad_provider).empty());

  YAML::Node missing = YAML::Clone(good);
  missing["spec"].remove("minNodes");
  CHECK_FALSE(schema_errors(missing).empty());

  YAML::Node negative = YAML::Clone(good);
  negative["spec"]["maxNodes"] = -1;
  CHECK_FALSE(schema_errors(negative).empty());

  YAML::Node typo = YAML::Clone(good);
  typo["spec"]["scaleDown"]["unneededSecs"] = 600;
  CHECK_FALSE(schema_errors(typo).empty());

  YAML::Node bad_memory = YAML::Clone(good);
  bad_memory["spec"]["offerings"][0]["memory"] = "eight gigs";
  CHECK_FALSE(schema_errors(bad_memory).empty());

  YAML::Node ratio = YAML::Clone(good);
  ratio["spec"]["scaleDown"]["utilizationThreshold"] = 1.5;
  CHECK_FALSE(schema_errors(ratio).empty());
}

TEST_CASE("the example tier policy is CONTRACT.md's table and ballast check-config accepts it") {
  const auto policy_path = repo_root() / "examples/policy.yaml";
  const YAML::Node policy = YAML::LoadFile(policy_path.string());
  const std::map<std::string, std::string> contract = {
      {"infra", "platform-infra-critical"}, {"critical", "platform-critical"}, {"standard", "platform-normal"},
      {"stateful", "platform-critical"},    {"scale-to-zero", "platform-normal"}, {"batch", "batch-low"}};
  std::map<std::string, std::string> tiers;
  for (const auto& tier : policy["tiers"]) {
    tiers[tier.first.as<std::string>()] = tier.second["priorityClassName"].as<std::string>();
  }
  // CONTRACT.md's tiers as the table says; the platform tiers beside them use its classes
  // or Kubernetes' own system-* ones.
  for (const auto& [tier, name] : contract) CHECK(tiers[tier] == name);
  for (const auto& [tier, name] : tiers) {
    INFO(tier);
    const bool contract_class = std::any_of(contract.begin(), contract.end(),
                                            [&, &class_name = name](const auto& row) { return row.second == class_name; });
    CHECK((contract_class || name.starts_with("system-")));
  }
  CHECK(policy["defaultTier"].as<std::string>() == "standard");
  CHECK(policy["statefulSetTier"].as<std::string>() == "stateful");

  // The PriorityClasses the manifests create are exactly the ones the policy names.
  std::set<std::string> classes;
  for (const auto& document : YAML::LoadAllFromFile((repo_root() / "manifests/priorityclasses.yaml").string())) {
    classes.insert(document["metadata"]["name"].as<std::string>());
  }
  std::set<std::string> named;
  for (const auto& [tier, name] : contract) named.insert(name);
  CHECK(classes == named);

  const auto checked = ballast::testing::run_command(std::string(BALLAST_BINARY) + " check-config --policy '" +
                                                    policy_path.string() + "' 2>&1");
  INFO(checked.text);
  CHECK(checked.exit_code == 0);
}
