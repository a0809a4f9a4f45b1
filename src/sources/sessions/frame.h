#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace ballast::sessions {

inline constexpr size_t kMaxCounterLength = 128;
inline constexpr size_t kMaxLabels = 32;
// The largest |value| or |delta| of a frame. A count of sessions never comes near it,
// and it keeps sums of every series finite (two 1e308 series would sum to +inf).
inline constexpr double kMaxAmount = 1e15;

// One publisher frame, validated: it sets (`kValue`) or moves (`kDelta`) this connection's
// gauge for the series `counter` + `labels`. Pure value.
struct Frame {
  enum class Kind { kValue, kDelta };

  std::string counter;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key, keys unique
  Kind kind = Kind::kValue;
  double amount = 0;  // kValue: 0..kMaxAmount; kDelta: -kMaxAmount..kMaxAmount
};

// Parses one text frame of the session counters protocol. Errors are kInvalidArgument
// whose message says what is wrong; they go back to the publisher verbatim.
Result<Frame> parse_frame(std::string_view text);

}  // namespace ballast::sessions
