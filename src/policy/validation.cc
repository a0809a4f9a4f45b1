#include "policy/validation.h"

#include <cctype>

#include "kube/model/json_lookup.h"
#include "scaler/kafka_trigger.h"
#include "scaler/trigger_spec.h"

namespace ballast::policy {
namespace {

using kube::child;
using kube::path;

using json = nlohmann::json;

// Where a kind keeps the pod spec whose priorityClassName the scheduler will honor.
const json* pod_spec(const json& object, std::string_view group, std::string_view kind) {
  if (group.empty() && kind == "Pod") return path(object, {"spec"});
  if ((group == "apps" && (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
                           kind == "ReplicaSet")) ||
      (group == "batch" && kind == "Job") || (group.empty() && kind == "ReplicationController")) {
    return path(object, {"spec", "template", "spec"});
  }
  if (group == "batch" && kind == "CronJob") return path(object, {"spec", "jobTemplate", "spec", "template", "spec"});
  return nullptr;
}

std::string priority_class(const json* spec) {
  const json* name = spec != nullptr ? child(*spec, "priorityClassName") : nullptr;
  return name != nullptr && name->is_string() ? name->get<std::string>() : std::string();
}

Verdict validate_priority(const ObjectUnderReview& review, const TierPolicy& policy) {
  Verdict verdict;
  const std::string name = priority_class(pod_spec(review.object, review.group, review.kind));
  if (name.empty() || policy.may_use_priority_class(review.ns, name)) return verdict;
  if (review.old_object != nullptr &&
      priority_class(pod_spec(*review.old_object, review.group, review.kind)) == name) {
    return verdict;
  }
  verdict.allowed = false;
  verdict.reason = "priorityClassName " + name + " is reserved for the namespaces the tier policy allows (" +
                   std::string(review.ns) + " is not one of them)";
  return verdict;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_ballast_trigger(const json& trigger, const scaler::Metadata& metadata, const TierPolicy& policy) {
  const json* type = child(trigger, "type");
  if (type == nullptr || !(*type == "external" || *type == "external-push")) return false;
  if (metadata.count("source") > 0) return true;
  const auto address = metadata.find("scalerAddress");
  return address != metadata.end() && policy.scaler_addresses.count(address->second) > 0;
}

// ScaledObjects and ScaledJobs carry triggers alike (spec.triggers, minReplicaCount).
Verdict validate_triggers(const ObjectUnderReview& review, const TierPolicy& policy, bool scaled_job) {
  Verdict verdict;
  const json* triggers = path(review.object, {"spec", "triggers"});
  if (triggers == nullptr || !triggers->is_array()) return verdict;
  // Unchanged triggers stay admissible: KEDA's own finalizer updates must never be
  // blocked by a trigger that was admitted before ballast validated it.
  const bool enforce = review.old_object == nullptr || path(*review.old_object, {"spec", "triggers"}) == nullptr ||
                       *path(*review.old_object, {"spec", "triggers"}) != *triggers;
  const json* min_replicas = path(review.object, {"spec", "minReplicaCount"});
  // KEDA's default minReplicaCount is 0.
  const bool scales_to_zero = min_replicas == nullptr || (min_replicas->is_number() && *min_replicas == 0);

  for (size_t index = 0; index < triggers->size(); ++index) {
    const json& trigger = (*triggers)[index];
    const std::string where = "spec.triggers[" + std::to_string(index) + "]";
    const json* raw = child(trigger, "metadata");
    scaler::Metadata metadata;
    bool from_env = false;
    if (raw != nullptr && raw->is_object()) {
      for (const auto& [key, value] : raw->items()) {
        metadata[key] = value.is_string() ? value.get<std::string>() : value.dump();
        from_env = from_env || key.ends_with("FromEnv");
      }
    }
    if (!is_ballast_trigger(trigger, metadata, policy)) continue;

    // Keys a KEDA kafka trigger brings that ballast would ignore: refused even beside
    // *FromEnv keys (they are among them), since no run-time value can make them honoured.
    if (const auto source = metadata.find("source"); source != metadata.end() && source->second == "kafka" && enforce) {
      if (auto refused = scaler::refuse_unhonoured_kafka_keys(metadata); !refused) {
        verdict.allowed = false;
        verdict.reason = where + ".metadata: " + refused.error().message;
        return verdict;
      }
    }
    if (auto spec = scaler::parse_trigger(metadata); !spec) {
      const std::string message = where + ".metadata: " + spec.error().message;
      // KEDA resolves *FromEnv keys from the workload's containers, which admission
      // cannot see: a value that looks missing may well arrive at run time.
      if (from_env || !enforce) {
        verdict.warnings.push_back("ballast: " + message);
        continue;
      }
      verdict.allowed = false;
      verdict.reason = message;
      return verdict;
    }
    const auto ignore_nulls = metadata.find("ignoreNullValues");
    if (ignore_nulls != metadata.end() && lower(ignore_nulls->second) == "true") {
      verdict.warnings.push_back("ballast: " + where +
                                 ": ignoreNullValues \"true\" reads an empty query result as 0 and scales down");
    }
    // A ScaledJob polls on its pollingInterval; push streams do not start Jobs sooner.
    if (!scaled_job && *child(trigger, "type") == "external" && scales_to_zero) {
      verdict.warnings.push_back("ballast: " + where +
                                 ": type external-push wakes a scaled-to-zero workload faster than external");
    }
  }
  return verdict;
}

}  // namespace

Verdict validate_object(const ObjectUnderReview& review, const TierPolicy& policy) {
  if (review.group == "keda.sh" && review.kind == "ScaledObject") return validate_triggers(review, policy, false);
  if (review.group == "keda.sh" && review.kind == "ScaledJob") return validate_triggers(review, policy, true);
  return validate_priority(review, policy);
}

}  // namespace ballast::policy
