#pragma once

// Typed readers for ScaledObject trigger metadata, shared by the per-source parsers.
// Every error is kInvalidArgument and names the key.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"
#include "scaler/trigger_spec.h"

namespace ballast::scaler {

// The value, or `fallback` when the key is absent or empty.
std::string value_or(const Metadata& metadata, const std::string& key, std::string fallback = "");
// A required string: absent or empty is an error naming the key.
Result<std::string> required(const Metadata& metadata, const std::string& key, std::string_view source);
// A decimal number (no hex, inf or nan) within +-kMaxWireValue; `fallback` empty means
// the key is required.
Result<double> number_field(const Metadata& metadata, const std::string& key, std::optional<double> fallback);
// A whole number within +-kMaxWireValue; `fallback` empty means the key is required.
Result<int64_t> integer_field(const Metadata& metadata, const std::string& key, std::optional<int64_t> fallback);
// "true"/"false" (any case); absent → fallback.
Result<bool> bool_field(const Metadata& metadata, const std::string& key, bool fallback);
// A positive Go-style duration ("30s"); absent → fallback.
Result<std::chrono::milliseconds> duration_field(const Metadata& metadata, const std::string& key,
                                                 std::chrono::milliseconds fallback);
// The HPA target per replica (`target_key`, > 0) and the activation threshold
// (`activation_key`, default 0) that every trigger carries, under its source's key names.
// `default_target` empty means the target is required. Number is double, or int64_t for
// counts (Kafka lag).
template <typename Number>
struct Thresholds {
  Number target = 0;
  Number activation = 0;
};
template <typename Number>
Result<Thresholds<Number>> thresholds_field(const Metadata& metadata, const std::string& target_key,
                                            const std::string& activation_key, std::optional<Number> default_target,
                                            bool activation_may_be_negative);
// `k=v,k2=v2` pairs in their written order; values may not contain ',' or '='. Errors
// never quote the text (values may be credentials).
Result<std::vector<std::pair<std::string, std::string>>> pairs_field(const Metadata& metadata, const std::string& key);

}  // namespace ballast::scaler
