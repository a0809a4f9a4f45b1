#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace ballast {

using TimePoint = std::chrono::system_clock::time_point;

// RFC 3339 as Kubernetes writes it ("2026-11-22T10:00:00Z", optional fraction, "Z" or
// "+01:00").
Result<TimePoint> parse_time(std::string_view text);
// UTC with second precision (metav1.Time).
std::string format_time(TimePoint time);
// UTC with microseconds (metav1.MicroTime, as Leases and events.k8s.io use).
std::string format_micro_time(TimePoint time);

}  // namespace ballast
