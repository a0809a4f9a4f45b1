#include "scaler/trigger_spec.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <vector>

#include "scaler/metadata_fields.h"

namespace ballast::scaler {
namespace {

constexpr size_t kMaxMetricNameLength = 63;

// Keys every trigger may carry, including the ones KEDA reads itself and forwards.
constexpr std::array<std::string_view, 8> kCommonKeys = {
    "source", "metricName", "maxStaleness", "pollInterval", "auth", "scalerAddress", "enableTLS", "unsafeSsl"};

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// A key that is not known but sits within a small edit distance of a known one (or differs
// only in case) is a typo the user wants to hear about, not a key to ignore. Every
// source's keys count, so a kafka key misspelt on a prometheus trigger is caught too.
Status reject_misspelled_keys(const Metadata& metadata) {
  std::vector<std::string_view> known(kCommonKeys.begin(), kCommonKeys.end());
  for (const auto keys : {sessions_trigger_keys(), kafka_trigger_keys(), prometheus_trigger_keys()}) {
    known.insert(known.end(), keys.begin(), keys.end());
  }
  for (const auto& [key, value] : metadata) {
    if (std::find(known.begin(), known.end(), key) != known.end() || key.ends_with("FromEnv")) continue;
    const std::string lowered = lower(key);
    for (const auto candidate : known) {
      const size_t allowed = candidate.size() >= 8 ? 2 : 1;
      // The distance is at least the difference in length: a long key (the metadata is
      // untrusted) costs nothing instead of length × candidate length per known key.
      const size_t length_gap = std::max(lowered.size(), candidate.size()) - std::min(lowered.size(), candidate.size());
      if (length_gap > allowed) continue;
      if (edit_distance(lowered, lower(candidate)) <= allowed) {
        return invalid_argument("unknown key \"" + key + "\": did you mean \"" + std::string(candidate) + "\"?");
      }
    }
  }
  return Ok{};
}

}  // namespace

std::string stable_hash_hex(std::string_view text) {
  uint32_t hash = 2166136261u;  // FNV-1a: stable across builds and platforms
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  char out[9];
  std::snprintf(out, sizeof(out), "%08x", hash);
  return out;
}

std::string_view source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::kKafka: return "kafka";
    case SourceKind::kPrometheus: return "prometheus";
    case SourceKind::kSessions: return "sessions";
  }
  return "unknown";
}

std::string normalize_metric_name(std::string_view raw) {
  std::string out;
  bool lossy = false;
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (std::islower(u) || std::isdigit(u)) {
      out += c;
    } else if (std::isupper(u)) {
      out += static_cast<char>(std::tolower(u));
      lossy = true;
    } else {
      // '_' → '-' is the expected spelling change, not a loss worth a hash.
      if (c != '-' && c != '_') lossy = true;
      if (!out.empty() && out.back() != '-') out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.size() > kMaxMetricNameLength) {
    out.resize(kMaxMetricNameLength - 9);  // room for "-" + 8 hex digits
    lossy = true;
  }
  if (lossy) {
    while (!out.empty() && out.back() == '-') out.pop_back();
    out += (out.empty() ? "" : "-") + stable_hash_hex(raw);
  }
  return out;
}

Result<TriggerSpec> parse_trigger(const Metadata& metadata) {
  if (auto typo = reject_misspelled_keys(metadata); !typo) return typo.error();

  TriggerSpec spec;
  const std::string source = value_or(metadata, "source");
  if (source.empty()) return invalid_argument("source is required (kafka, prometheus or sessions)");

  if (const auto name = value_or(metadata, "metricName"); !name.empty()) {
    if (std::none_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); })) {
      return invalid_argument("metricName \"" + name + "\" needs at least one letter or digit");
    }
    spec.metric_name = normalize_metric_name(name);
  }
  auto staleness = duration_field(metadata, "maxStaleness", spec.max_staleness);
  if (!staleness) return staleness.error();
  spec.max_staleness = *staleness;
  // Validated for every source; a polled source's parser supplies its own default.
  auto poll = duration_field(metadata, "pollInterval", std::chrono::milliseconds{0});
  if (!poll) return poll.error();
  spec.poll_interval = *poll;
  spec.auth = value_or(metadata, "auth");

  Status parsed = Ok{};
  if (source == "sessions") {
    spec.source = SourceKind::kSessions;
    parsed = parse_sessions_trigger(metadata, spec);
  } else if (source == "kafka") {
    spec.source = SourceKind::kKafka;
    parsed = parse_kafka_trigger(metadata, spec);
  } else if (source == "prometheus") {
    spec.source = SourceKind::kPrometheus;
    parsed = parse_prometheus_trigger(metadata, spec);
  } else {
    return invalid_argument("source must be kafka, prometheus or sessions, got \"" + source + "\"");
  }
  if (!parsed) return parsed.error();
  if (spec.source_name.empty()) spec.source_name = spec.source_key;  // no secret values in the key
  return spec;
}

}  // namespace ballast::scaler
