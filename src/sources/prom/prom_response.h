#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "core/result.h"

namespace ballast::prom {

// Larger bodies are refused before parsing: one instant sample is a few hundred bytes, so
// megabytes mean a query that returns whole series sets.
inline constexpr size_t kMaxResponseBytes = 4u << 20;

// Parses the body of GET /api/v1/query (Prometheus, Mimir, Thanos). Pure.
// - vector of one sample, or scalar → its value
// - empty vector, or a NaN/±Inf sample → nullopt (null: the series is missing)
// - vector of several series → kInvalidArgument telling the user to aggregate (sum(...))
// - matrix or string result → kInvalidArgument (not an instant number)
// - `status: error` → kInvalidArgument carrying Prometheus' errorType and error
// - anything else (truncated, not JSON, wrong shape, over kMaxResponseBytes) → kIo
Result<std::optional<double>> parse_query_response(std::string_view body);

// The null rule: with ignoreNullValues a null reads as 0 (KEDA's behaviour); without it
// (ballast's default) a null is an error, so a lost target keeps the last good value
// and then goes UNAVAILABLE instead of scaling to zero.
Result<double> resolve_null(std::optional<double> value, bool ignore_null_values);

}  // namespace ballast::prom
