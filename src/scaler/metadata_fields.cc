#include "scaler/metadata_fields.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/duration.h"
#include "scaler/activation.h"

namespace ballast::scaler {

std::string value_or(const Metadata& metadata, const std::string& key, std::string fallback) {
  const auto it = metadata.find(key);
  return it == metadata.end() || it->second.empty() ? fallback : it->second;
}

Result<std::string> required(const Metadata& metadata, const std::string& key, std::string_view source) {
  auto value = value_or(metadata, key);
  if (value.empty()) return invalid_argument(key + " is required for source " + std::string(source));
  return value;
}

namespace {

// [+-]digits[.digits][(e|E)[+-]digits], or with the digits only after the point: what
// KEDA's strconv.ParseFloat users write. strtod alone also takes hex ("0x10"), "inf",
// "nan" and leading spaces.
bool is_decimal_number(std::string_view text) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    return i - start;
  };
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t mantissa = digits();
  if (i < text.size() && text[i] == '.') {
    ++i;
    mantissa += digits();
  }
  if (mantissa == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

Error out_of_range(const std::string& key) {
  return invalid_argument(key + " must be between -9e15 and 9e15 (KEDA's largest metric value)");
}

}  // namespace

Result<double> number_field(const Metadata& metadata, const std::string& key, std::optional<double> fallback) {
  const auto text = value_or(metadata, key);
  if (text.empty()) {
    if (fallback) return *fallback;
    return invalid_argument(key + " is required");
  }
  if (!is_decimal_number(text)) {
    return invalid_argument(key + " must be a number (decimal, such as 2.5), got \"" + text + "\"");
  }
  const double value = std::strtod(text.c_str(), nullptr);
  if (!(std::fabs(value) <= kMaxWireValue)) return out_of_range(key);
  return value;
}

Result<int64_t> integer_field(const Metadata& metadata, const std::string& key, std::optional<int64_t> fallback) {
  const auto text = value_or(metadata, key);
  if (text.empty()) {
    if (fallback) return *fallback;
    return invalid_argument(key + " is required");
  }
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return invalid_argument(key + " must be a whole number, got \"" + text + "\"");
  }
  if (std::fabs(static_cast<double>(value)) > kMaxWireValue) return out_of_range(key);
  return value;
}

Result<bool> bool_field(const Metadata& metadata, const std::string& key, bool fallback) {
  auto text = value_or(metadata, key);
  if (text.empty()) return fallback;
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  if (text == "true") return true;
  if (text == "false") return false;
  return invalid_argument(key + " must be true or false, got \"" + value_or(metadata, key) + "\"");
}

Result<std::chrono::milliseconds> duration_field(const Metadata& metadata, const std::string& key,
                                                 std::chrono::milliseconds fallback) {
  const auto text = value_or(metadata, key);
  if (text.empty()) return fallback;
  auto parsed = parse_duration(text);
  if (!parsed) return invalid_argument(key + ": " + parsed.error().message);
  if (parsed->count() <= 0) return invalid_argument(key + " must be greater than zero");
  return parsed;
}

namespace {

Result<double> typed_field(const Metadata& metadata, const std::string& key, std::optional<double> fallback) {
  return number_field(metadata, key, fallback);
}
Result<int64_t> typed_field(const Metadata& metadata, const std::string& key, std::optional<int64_t> fallback) {
  return integer_field(metadata, key, fallback);
}

}  // namespace

template <typename Number>
Result<Thresholds<Number>> thresholds_field(const Metadata& metadata, const std::string& target_key,
                                            const std::string& activation_key, std::optional<Number> default_target,
                                            bool activation_may_be_negative) {
  auto target = typed_field(metadata, target_key, default_target);
  if (!target) return target.error();
  if (*target <= 0) return invalid_argument(target_key + " must be greater than zero");
  auto activation = typed_field(metadata, activation_key, std::optional<Number>(0));
  if (!activation) return activation.error();
  if (!activation_may_be_negative && *activation < 0) {
    return invalid_argument(activation_key + " must not be negative");
  }
  return Thresholds<Number>{*target, *activation};
}

template Result<Thresholds<double>> thresholds_field(const Metadata&, const std::string&, const std::string&,
                                                     std::optional<double>, bool);
template Result<Thresholds<int64_t>> thresholds_field(const Metadata&, const std::string&, const std::string&,
                                                      std::optional<int64_t>, bool);

Result<std::vector<std::pair<std::string, std::string>>> pairs_field(const Metadata& metadata,
                                                                     const std::string& key) {
  const auto text = value_or(metadata, key);
  std::vector<std::pair<std::string, std::string>> pairs;
  if (text.empty()) return pairs;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || item.find('=', eq + 1) != std::string::npos) {
      // The text is not quoted: values may be credentials (customHeaders: Authorization=...).
      return invalid_argument(key + " must be k=v,k2=v2 (item " + std::to_string(pairs.size() + 1) + " is not)");
    }
    pairs.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    start = comma + 1;
  }
  return pairs;
}

}  // namespace ballast::scaler
