#include "scaler/trigger_spec.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

#include "core/duration.h"

namespace ballast::scaler {
namespace {

constexpr size_t kMaxMetricNameLength = 63;

// Keys every trigger may carry, including the ones KEDA reads itself and forwards.
constexpr std::array kCommonKeys = {"source",       "metricName", "maxStaleness", "pollInterval",
                                    "auth",         "scalerAddress", "enableTLS", "unsafeSsl"};
constexpr std::array kSessionsKeys = {"counter", "selector", "threshold", "activationThreshold"};
// Keys of the other sources, known so that their misspellings are caught too.
constexpr std::array kOtherSourceKeys = {
    "bootstrapServers",  "consumerGroup",        "topic",         "lagThreshold",
    "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers", "excludePersistentLag",
    "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions",
    "partitionLimitation", "serverAddress", "query", "tenant", "customHeaders", "queryParameters",
    "ignoreNullValues", "timeout"};

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

template <typename Keys>
bool contains(const Keys& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// A key that is not known but sits within a small edit distance of a known one (or differs
// only in case) is a typo the user wants to hear about, not a key to ignore.
Status reject_misspelled_keys(const Metadata& metadata) {
  std::vector<std::string_view> known(kCommonKeys.begin(), kCommonKeys.end());
  known.insert(known.end(), kSessionsKeys.begin(), kSessionsKeys.end());
  known.insert(known.end(), kOtherSourceKeys.begin(), kOtherSourceKeys.end());
  for (const auto& [key, value] : metadata) {
    if (contains(known, key) || key.ends_with("FromEnv")) continue;
    for (const auto candidate : known) {
      const size_t allowed = candidate.size() >= 8 ? 2 : 1;
      if (lower(key) == lower(candidate) || edit_distance(lower(key), lower(candidate)) <= allowed) {
        return invalid_argument("unknown key \"" + key + "\": did you mean \"" + std::string(candidate) + "\"?");
      }
    }
  }
  return Ok{};
}

Result<double> parse_number(const Metadata& metadata, const std::string& key, std::optional<double> fallback) {
  const auto it = metadata.find(key);
  if (it == metadata.end() || it->second.empty()) {
    if (fallback) return *fallback;
    return invalid_argument(key + " is required");
  }
  const std::string& text = it->second;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) {
    return invalid_argument(key + " must be a number, got \"" + text + "\"");
  }
  return value;
}

Result<std::chrono::milliseconds> parse_duration_key(const Metadata& metadata, const std::string& key,
                                                     std::chrono::milliseconds fallback) {
  const auto it = metadata.find(key);
  if (it == metadata.end() || it->second.empty()) return fallback;
  auto parsed = parse_duration(it->second);
  if (!parsed) return invalid_argument(key + ": " + parsed.error().message);
  if (parsed->count() <= 0) return invalid_argument(key + " must be greater than zero");
  return parsed;
}

std::string value_or(const Metadata& metadata, const std::string& key, std::string fallback = "") {
  const auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

bool is_label_text(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':';
  });
}

Result<std::vector<std::pair<std::string, std::string>>> parse_selector(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start <= text.size() && !text.empty()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || !is_label_text(item.substr(0, eq)) || !is_label_text(item.substr(eq + 1))) {
      return invalid_argument("selector must be k=v,k2=v2 with label-safe names and values, got \"" + text + "\"");
    }
    pairs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    start = comma + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  for (size_t i = 1; i < pairs.size(); ++i) {
    if (pairs[i].first == pairs[i - 1].first) {
      return invalid_argument("selector names label \"" + pairs[i].first + "\" twice");
    }
  }
  return pairs;
}

std::string hash_suffix(std::string_view text) {
  uint32_t hash = 2166136261u;  // FNV-1a: stable across builds and platforms
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 16777619u;
  }
  char out[9];
  std::snprintf(out, sizeof(out), "%08x", hash);
  return out;
}

Result<TriggerSpec> parse_sessions(const Metadata& metadata, TriggerSpec spec) {
  SessionsTrigger sessions;
  sessions.counter = value_or(metadata, "counter");
  if (sessions.counter.empty()) return invalid_argument("counter is required for source sessions");
  if (!is_label_text(sessions.counter)) {
    return invalid_argument("counter \"" + sessions.counter + "\" may only hold letters, digits and _-.:/");
  }
  auto selector = parse_selector(value_or(metadata, "selector"));
  if (!selector) return selector.error();
  sessions.selector = std::move(*selector);

  std::string canonical = "sessions|" + sessions.counter;
  std::string readable = "sessions-" + sessions.counter;
  for (const auto& [key, value] : sessions.selector) {
    canonical += "|" + key + "=" + value;
    readable += "-" + value;
  }
  spec.source_key = canonical;
  if (spec.metric_name.empty()) spec.metric_name = normalize_metric_name(readable);
  spec.detail = std::move(sessions);
  return spec;
}

}  // namespace

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
  const size_t room = kMaxMetricNameLength - 9;  // "-" + 8 hex digits
  if (out.size() > kMaxMetricNameLength) {
    out.resize(room);
    lossy = true;
  }
  if (lossy) {
    while (!out.empty() && out.back() == '-') out.pop_back();
    out += (out.empty() ? "" : "-") + hash_suffix(raw);
  }
  return out;
}

Result<TriggerSpec> parse_trigger(const Metadata& metadata) {
  if (auto typo = reject_misspelled_keys(metadata); !typo) return typo.error();

  TriggerSpec spec;
  const std::string source = value_or(metadata, "source");
  if (source.empty()) return invalid_argument("source is required (kafka, prometheus or sessions)");
  if (source == "sessions") {
    spec.source = SourceKind::kSessions;
  } else if (source == "kafka" || source == "prometheus") {
    return invalid_argument("source \"" + source + "\" is not available in this build of ballast (available: sessions)");
  } else {
    return invalid_argument("source must be kafka, prometheus or sessions, got \"" + source + "\"");
  }

  if (const auto name = value_or(metadata, "metricName"); !name.empty()) {
    if (std::none_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); })) {
      return invalid_argument("metricName \"" + name + "\" needs at least one letter or digit");
    }
    spec.metric_name = normalize_metric_name(name);
  }
  auto threshold = parse_number(metadata, "threshold", std::nullopt);
  if (!threshold) return threshold.error();
  if (*threshold <= 0) return invalid_argument("threshold must be greater than zero");
  spec.threshold = *threshold;
  auto activation = parse_number(metadata, "activationThreshold", 0.0);
  if (!activation) return activation.error();
  spec.activation_threshold = *activation;

  auto staleness = parse_duration_key(metadata, "maxStaleness", spec.max_staleness);
  if (!staleness) return staleness.error();
  spec.max_staleness = *staleness;
  // Validated here for every source; push sources keep 0 (nothing to poll).
  auto poll = parse_duration_key(metadata, "pollInterval", std::chrono::milliseconds{0});
  if (!poll) return poll.error();
  spec.poll_interval = *poll;
  spec.auth = value_or(metadata, "auth");

  return parse_sessions(metadata, std::move(spec));
}

}  // namespace ballast::scaler
