#include "sources/prom/prom_response.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/nesting.h"

namespace ballast::prom {
namespace {

using nlohmann::json;

Error malformed(const std::string& why) { return Error{ErrorCode::kIo, "malformed query response: " + why}; }

// A sample is [timestamp, "value"]; Prometheus writes values as strings ("7", "NaN",
// "+Inf") so NaN and infinities survive JSON.
Result<std::optional<double>> sample_value(const json& pair) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
    return malformed("a sample must be [timestamp, \"value\"]");
  }
  const auto& text = pair[1].get_ref<const std::string&>();
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) return malformed("sample value \"" + text + "\" is not a number");
  if (!std::isfinite(value)) return std::optional<double>{};
  return std::optional<double>{value};
}

std::string string_field(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<std::optional<double>> parse_query_response(std::string_view body) {
  if (body.size() > kMaxResponseBytes) {
    return malformed("body is " + std::to_string(body.size()) + " bytes, over the " +
                     std::to_string(kMaxResponseBytes) + " byte limit (does the query return many series?)");
  }
  if (auto nesting = check_json_nesting(body, "the body"); !nesting) return malformed(nesting.error().message);
  const json document = json::parse(body.begin(), body.end(), nullptr, false);
  if (document.is_discarded()) return malformed("not JSON (truncated or not a Prometheus API)");
  if (!document.is_object()) return malformed("not a JSON object");

  const std::string status = string_field(document, "status");
  if (status == "error") {
    const std::string type = string_field(document, "errorType");
    const std::string message = string_field(document, "error");
    return invalid_argument("prometheus rejected the query (" + (type.empty() ? "error" : type) +
                            "): " + (message.empty() ? "no message" : message));
  }
  if (status != "success") return malformed("status is \"" + status + "\", not \"success\"");

  const auto data = document.find("data");
  if (data == document.end() || !data->is_object()) return malformed("no data object");
  const std::string type = string_field(*data, "resultType");
  const auto result = data->find("result");
  if (result == data->end()) return malformed("no data.result");

  if (type == "scalar") return sample_value(*result);
  if (type == "vector") {
    if (!result->is_array()) return malformed("vector result is not an array");
    if (result->empty()) return std::optional<double>{};
    if (result->size() > 1) {
      return invalid_argument("query returned " + std::to_string(result->size()) +
                              " series, ballast needs one: aggregate it, e.g. sum(...)");
    }
    const auto& series = (*result)[0];
    if (!series.is_object() || !series.contains("value")) return malformed("vector sample has no value");
    return sample_value(series["value"]);
  }
  if (type == "matrix") {
    return invalid_argument("query returned a range vector (matrix): use an instant query, e.g. sum(rate(x[5m]))");
  }
  if (type == "string") return invalid_argument("query returned a string, not a number");
  return malformed("unknown resultType \"" + type + "\"");
}

Result<double> resolve_null(std::optional<double> value, bool ignore_null_values) {
  if (value) return *value;
  if (ignore_null_values) return 0.0;
  return unavailable(
      "query returned no sample (empty result, NaN or Inf): the target may be lost; set ignoreNullValues: \"true\" "
      "to read this as 0");
}

}  // namespace ballast::prom
