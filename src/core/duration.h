#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ballast {

// Parses Go-style durations as Kubernetes users write them: "30s", "1m30s", "500ms",
// "2h". A bare number is taken as seconds. Negative values are rejected.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace ballast
