#include "scaler/scaled_object_file.h"

#include "core/yaml_document.h"

namespace ballast::scaler {
namespace {

Result<int64_t> replicas_field(const YAML::Node& spec, const char* key, int64_t fallback, const std::string& where) {
  const auto node = spec[key];
  if (!node) return fallback;
  try {
    const auto value = node.as<int64_t>();
    if (value < 0) return invalid_argument(where + "spec." + key + ": must not be negative");
    return value;
  } catch (const YAML::Exception&) {
    return invalid_argument(where + "spec." + key + ": must be an integer");
  }
}

Result<std::vector<ScaledObjectTrigger>> read_document(const YAML::Node& document, const std::string& where) {
  std::vector<ScaledObjectTrigger> found;
  if (!document.IsMap() || document["kind"].as<std::string>("") != "ScaledObject") return found;
  const auto metadata = document["metadata"];
  const bool has_metadata = metadata && metadata.IsMap();  // a missing key is an invalid node, whose IsMap() throws
  const std::string name = has_metadata ? metadata["name"].as<std::string>("") : "";
  const std::string namespace_name = has_metadata ? metadata["namespace"].as<std::string>("default") : "default";
  const std::string named = where + " (ScaledObject " + namespace_name + "/" + name + "): ";
  if (name.empty()) return invalid_argument(where + ": a ScaledObject without metadata.name");
  const auto spec = document["spec"];
  if (!spec || !spec.IsMap()) return invalid_argument(named + "spec: must be a mapping");
  auto min_replicas = replicas_field(spec, "minReplicaCount", 0, named);
  if (!min_replicas) return min_replicas.error();
  auto max_replicas = replicas_field(spec, "maxReplicaCount", 100, named);
  if (!max_replicas) return max_replicas.error();
  const auto triggers = spec["triggers"];
  if (!triggers || !triggers.IsSequence()) return invalid_argument(named + "spec.triggers: must be a list");
  for (size_t i = 0; i < triggers.size(); ++i) {
    const auto trigger = triggers[i];
    const std::string at = named + "spec.triggers[" + std::to_string(i) + "]";
    if (!trigger.IsMap()) return invalid_argument(at + ": must be a mapping");
    const std::string type = trigger["type"].as<std::string>("");
    if (type != "external" && type != "external-push") continue;
    ScaledObjectTrigger out{namespace_name, name, static_cast<int>(i), type, {}, *min_replicas, *max_replicas};
    const auto fields = trigger["metadata"];
    if (fields && !fields.IsMap()) return invalid_argument(at + ".metadata: must be a mapping");
    for (const auto& field : fields) {
      const auto key = field.first.as<std::string>();
      if (!field.second.IsScalar()) return invalid_argument(at + ".metadata." + key + ": must be a string");
      out.metadata[key] = field.second.as<std::string>();
    }
    found.push_back(std::move(out));
  }
  return found;
}

}  // namespace

Result<std::vector<ScaledObjectTrigger>> read_scaled_object_triggers(const std::string& yaml) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& error) {
    return invalid_argument("not YAML: " + error.msg + " (line " + std::to_string(error.mark.line + 1) + ")");
  }
  std::vector<ScaledObjectTrigger> triggers;
  for (size_t i = 0; i < documents.size(); ++i) {
    const std::string where = "document " + std::to_string(i + 1);
    if (auto checked = check_yaml_document(documents[i]); !checked) {
      return invalid_argument(where + ": " + checked.error().message);
    }
    try {
      auto found = read_document(documents[i], where);
      if (!found) return found.error();
      for (auto& trigger : *found) triggers.push_back(std::move(trigger));
    } catch (const YAML::Exception& error) {
      return invalid_argument(where + ": " + error.msg);
    }
  }
  return triggers;
}

}  // namespace ballast::scaler
