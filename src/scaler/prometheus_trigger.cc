#include "scaler/prometheus_trigger.h"

#include <array>

#include "scaler/trigger_spec.h"

namespace ballast::scaler {
namespace {
constexpr std::array<std::string_view, 10> kKeys = {
    "serverAddress", "query", "threshold", "activationThreshold", "tenant", "customHeaders", "queryParameters",
    "ignoreNullValues", "unsafeSsl", "timeout"};
}  // namespace

std::span<const std::string_view> prometheus_trigger_keys() { return kKeys; }

Status parse_prometheus_trigger(const Metadata&, TriggerSpec&) {
  return invalid_argument("source \"prometheus\" is not available in this build of ballast");
}

}  // namespace ballast::scaler
