#include "core/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace ballast {
namespace {

struct Unit {
  std::string_view suffix;
  double milliseconds;
};

// Longest suffixes first so "ms" is not read as "m".
constexpr Unit kUnits[] = {{"ms", 1.0}, {"h", 3600e3}, {"m", 60e3}, {"s", 1e3}};

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const std::string original(text);
  if (text.empty()) return invalid_argument("empty duration");
  double total_ms = 0;
  bool bare_number = true;
  while (!text.empty()) {
    size_t digits = 0;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) {
      ++digits;
    }
    if (digits == 0) return invalid_argument("invalid duration \"" + original + "\" (use e.g. 30s, 1m, 500ms)");
    const std::string number(text.substr(0, digits));
    char* end = nullptr;
    const double amount = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) {
      return invalid_argument("invalid duration \"" + original + "\" (use e.g. 30s, 1m, 500ms)");
    }
    text.remove_prefix(digits);
    if (text.empty() && bare_number) {
      total_ms = amount * 1e3;
      break;
    }
    bool matched = false;
    for (const auto& unit : kUnits) {
      if (text.substr(0, unit.suffix.size()) == unit.suffix) {
        total_ms += amount * unit.milliseconds;
        text.remove_prefix(unit.suffix.size());
        matched = true;
        break;
      }
    }
    if (!matched) return invalid_argument("invalid duration \"" + original + "\" (units: ms, s, m, h)");
    bare_number = false;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e12) return invalid_argument("duration \"" + original + "\" is too large");
  return std::chrono::milliseconds(std::llround(total_ms));
}

}  // namespace ballast
