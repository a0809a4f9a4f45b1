// A ScaledObject trigger's `metadata`, as KEDA forwards it to GetMetricSpec and as the
// validating webhook reads it. Input: `key=value` lines.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.h"
#include "scaler/trigger_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  scaler::Metadata metadata;
  std::string_view text = fuzz::as_text(data, size);
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    const size_t equals = line.find('=');
    if (equals != std::string_view::npos) {
      metadata[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  auto spec = scaler::parse_trigger(metadata);
  if (spec) (void)scaler::normalize_metric_name(spec->metric_name);
  return 0;
}
