#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/timestamp.h"

namespace ballast::nodepool {

// Kubernetes resource.Quantity text ("100m", "1.5", "8Gi", "1e3", "128974848", "129M")
// parsed exactly (no floating point) into an integer. Fractions round up, as the
// apiserver does when it canonicalises a quantity.
//   parse_milli("250m") == 250, parse_milli("2") == 2000   (CPU: millicores)
//   parse_units("8Gi") == 8589934592, parse_units("1.5k") == 1500  (memory: bytes, pods)
// Negative quantities and values beyond int64 are errors.
Result<int64_t> parse_milli(std::string_view text);
Result<int64_t> parse_units(std::string_view text);

// Times: core/timestamp.h (TimePoint, parse_time, format_time), shared with the Kubernetes client.

}  // namespace ballast::nodepool
