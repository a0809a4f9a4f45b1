#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

// `source: prometheus`: one PromQL instant query (Prometheus, Mimir, Thanos). Pure value.
struct PrometheusTrigger {
  std::string server_address;  // http(s)://host[:port][/prefix], no trailing '/'
  std::string query;
  std::string tenant;  // sent as X-Scope-OrgID when set
  std::vector<std::pair<std::string, std::string>> custom_headers;    // written order
  std::vector<std::pair<std::string, std::string>> query_parameters;  // written order
  bool ignore_null_values = false;  // true: an empty or NaN/±Inf result reads as 0
  bool unsafe_ssl = false;          // skip certificate and hostname checks
  std::chrono::milliseconds timeout{3'000};
};

std::span<const std::string_view> prometheus_trigger_keys();
// Fills threshold, activation, poll interval default, source key, default metric name
// and detail of `spec`. Errors name the key.
Status parse_prometheus_trigger(const Metadata& metadata, TriggerSpec& spec);

}  // namespace ballast::scaler
