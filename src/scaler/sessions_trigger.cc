#include "scaler/sessions_trigger.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "scaler/metadata_fields.h"
#include "scaler/trigger_spec.h"

namespace ballast::scaler {
namespace {

constexpr std::array<std::string_view, 4> kKeys = {"counter", "selector", "threshold", "activationThreshold"};

bool is_label_text(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':';
  });
}

Result<std::vector<std::pair<std::string, std::string>>> parse_selector(const Metadata& metadata) {
  auto pairs = pairs_field(metadata, "selector");
  if (!pairs) return pairs.error();
  for (const auto& [key, value] : *pairs) {
    if (!is_label_text(key) || !is_label_text(value)) {
      return invalid_argument("selector must be k=v,k2=v2 with label-safe names and values, got \"" +
                              value_or(metadata, "selector") + "\"");
    }
  }
  std::sort(pairs->begin(), pairs->end());
  for (size_t i = 1; i < pairs->size(); ++i) {
    if ((*pairs)[i].first == (*pairs)[i - 1].first) {
      return invalid_argument("selector names label \"" + (*pairs)[i].first + "\" twice");
    }
  }
  return pairs;
}

}  // namespace

std::span<const std::string_view> sessions_trigger_keys() { return kKeys; }

Status parse_sessions_trigger(const Metadata& metadata, TriggerSpec& spec) {
  SessionsTrigger sessions;
  auto counter = required(metadata, "counter", "sessions");
  if (!counter) return counter.error();
  if (!is_label_text(*counter)) {
    return invalid_argument("counter \"" + *counter + "\" may only hold letters, digits and _-.:/");
  }
  sessions.counter = *counter;
  auto selector = parse_selector(metadata);
  if (!selector) return selector.error();
  sessions.selector = std::move(*selector);

  auto thresholds = thresholds_field<double>(metadata, "threshold", "activationThreshold", std::nullopt,
                                             /*activation_may_be_negative=*/true);
  if (!thresholds) return thresholds.error();
  spec.threshold = thresholds->target;
  spec.activation_threshold = thresholds->activation;

  std::string canonical = "sessions|" + sessions.counter;
  std::string readable = "sessions-" + sessions.counter;
  for (const auto& [key, value] : sessions.selector) {
    canonical += "|" + key + "=" + value;
    readable += "-" + value;
  }
  spec.source_key = canonical;
  if (spec.metric_name.empty()) spec.metric_name = normalize_metric_name(readable);
  spec.poll_interval = std::chrono::milliseconds{0};  // pushed, never polled
  spec.detail = std::move(sessions);
  return Ok{};
}

}  // namespace ballast::scaler
