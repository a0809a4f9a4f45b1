#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace ballast::scaler {

using Metadata = std::map<std::string, std::string>;
struct TriggerSpec;

// `source: sessions`: the sum of a pushed counter over live publishers.
struct SessionsTrigger {
  std::string counter;
  // Labels a series must carry to count, sorted by key, keys unique.
  std::vector<std::pair<std::string, std::string>> selector;
};

std::span<const std::string_view> sessions_trigger_keys();
// Fills threshold, activation, source key, default metric name and detail of `spec`.
Status parse_sessions_trigger(const Metadata& metadata, TriggerSpec& spec);

}  // namespace ballast::scaler
