#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"
#include "scaler/kafka_trigger.h"
#include "scaler/prometheus_trigger.h"
#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

enum class SourceKind { kKafka, kPrometheus, kSessions };

std::string_view source_kind_name(SourceKind kind);

// One ScaledObject trigger's metadata, parsed and validated once. Pure value.
struct TriggerSpec {
  SourceKind source = SourceKind::kSessions;
  std::string metric_name;          // stable lowercase [a-z0-9-], what GetMetricSpec returns
  double threshold = 0;             // HPA target per replica, > 0
  double activation_threshold = 0;  // active when the activation value > this (strict)
  std::chrono::milliseconds max_staleness{30'000};
  std::chrono::milliseconds poll_interval{0};  // 0 for push sources
  std::string auth;                 // credentials profile name, empty when none
  // Canonical identity of the data this trigger reads: triggers with equal keys share one
  // MetricHub entry and one poller, whatever their thresholds. Includes every option that
  // changes the value.
  std::string source_key;
  // What logs, the source_key metric label and error messages show: the source_key
  // without secret values (header and parameter values appear in the key only as a
  // digest, and not at all here). Equal to source_key for sources with no such values.
  std::string source_name;
  std::variant<SessionsTrigger, KafkaTrigger, PrometheusTrigger> detail;
};

// Validates `scalerMetadata` as KEDA forwards it. Errors are kInvalidArgument and name the
// offending key. Keys KEDA itself uses (scalerAddress, enableTLS, unsafeSsl) and unknown
// keys are ignored, except one that looks like a misspelling of a known key.
Result<TriggerSpec> parse_trigger(const Metadata& metadata);

// Lowercase [a-z0-9-] form of a name: '_' and other characters become '-', runs collapse,
// ends trimmed, at most 63 characters. When that loses more than '_' (case, other
// characters, length) a short stable hash of the original is appended so distinct inputs
// keep distinct names.
std::string normalize_metric_name(std::string_view raw);

// 8 hex digits of FNV-1a: stable across builds and platforms, for names that must not
// change between releases.
std::string stable_hash_hex(std::string_view text);

}  // namespace ballast::scaler
