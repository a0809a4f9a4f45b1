#include "sources/sessions/frame.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/nesting.h"

namespace ballast::sessions {
namespace {

using nlohmann::json;

bool is_counter_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}

Status check_counter(const json& counter) {
  if (!counter.is_string()) return invalid_argument("\"counter\" must be a string");
  const auto& name = counter.get_ref<const std::string&>();
  if (name.empty()) return invalid_argument("\"counter\" must not be empty");
  if (name.size() > kMaxCounterLength) {
    return invalid_argument("\"counter\" is longer than " + std::to_string(kMaxCounterLength) + " characters");
  }
  for (char c : name) {
    if (!is_counter_char(c)) return invalid_argument("\"counter\" may only contain [A-Za-z0-9_.:-]");
  }
  return Ok{};
}

Result<std::vector<std::pair<std::string, std::string>>> parse_labels(const json& labels) {
  if (!labels.is_object()) return invalid_argument("\"labels\" must be an object of strings");
  if (labels.size() > kMaxLabels) {
    return invalid_argument("\"labels\" has more than " + std::to_string(kMaxLabels) + " entries");
  }
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(labels.size());
  // nlohmann::json objects are std::maps, so iteration is already sorted by key.
  for (const auto& [key, value] : labels.items()) {
    if (key.empty()) return invalid_argument("label names must not be empty");
    if (!value.is_string()) return invalid_argument("label \"" + key + "\" must be a string");
    out.emplace_back(key, value.get<std::string>());
  }
  return out;
}

Result<double> parse_amount(const json& amount, const char* field) {
  if (!amount.is_number()) return invalid_argument(std::string("\"") + field + "\" must be a number");
  const double number = amount.get<double>();
  // JSON has no NaN or infinity, and nlohmann 3.11 refuses out-of-range literals such as
  // 1e999; the protocol's finiteness rule should not hang on that parser detail.
  if (!std::isfinite(number)) return invalid_argument(std::string("\"") + field + "\" must be finite");
  if (std::fabs(number) > kMaxAmount) {
    return invalid_argument(std::string("\"") + field + "\" must be between -1e15 and 1e15");
  }
  return number;
}

}  // namespace

Result<Frame> parse_frame(std::string_view text) {
  if (auto nesting = check_json_nesting(text, "frame"); !nesting) return nesting.error();
  const json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return invalid_argument("frame is not valid JSON");
  if (!document.is_object()) return invalid_argument("frame must be a JSON object");

  for (const auto& [key, value] : document.items()) {
    if (key != "counter" && key != "labels" && key != "value" && key != "delta") {
      // A misspelt "labels" would otherwise count the series under the wrong labels.
      return invalid_argument("unknown field \"" + key + "\"");
    }
  }

  Frame frame;
  const auto counter = document.find("counter");
  if (counter == document.end()) return invalid_argument("frame needs a \"counter\"");
  if (auto checked = check_counter(*counter); !checked) return checked.error();
  frame.counter = counter->get<std::string>();

  if (const auto labels = document.find("labels"); labels != document.end()) {
    auto parsed = parse_labels(*labels);
    if (!parsed) return parsed.error();
    frame.labels = std::move(parsed).value();
  }

  const auto value = document.find("value");
  const auto delta = document.find("delta");
  if ((value == document.end()) == (delta == document.end())) {
    return invalid_argument("frame needs exactly one of value or delta");
  }
  if (value != document.end()) {
    auto amount = parse_amount(*value, "value");
    if (!amount) return amount.error();
    if (*amount < 0) return invalid_argument("\"value\" must not be negative");
    frame.kind = Frame::Kind::kValue;
    frame.amount = *amount;
  } else {
    auto amount = parse_amount(*delta, "delta");
    if (!amount) return amount.error();
    frame.kind = Frame::Kind::kDelta;
    frame.amount = *amount;
  }
  return frame;
}

}  // namespace ballast::sessions
