#include "kube/model/quantity.h"

#include <cctype>
#include <limits>
#include <string>

namespace ballast::kube {
namespace {

using Int = __int128;
constexpr Int kMax = std::numeric_limits<int64_t>::max();
constexpr int kMaxExponent = 100;

struct Suffix {
  std::string_view text;
  int exp10;  // decimal exponent
  int exp2;   // binary exponent
};

constexpr Suffix kSuffixes[] = {
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"", 0, 0},    {"k", 3, 0},   {"M", 6, 0},
    {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},
};

// A quantity as written: digits · 10^exp10 · 2^exp2 (digits past int64·10 only move the
// exponent: the magnitude is kept, precision far beyond int64 is not).
struct Parts {
  Int digits = 0;
  int exp10 = 0;
  int exp2 = 0;
};

Error bad(std::string_view text, const char* why) {
  return invalid_argument("invalid quantity \"" + std::string(text) + "\": " + why);
}

Result<Parts> scan(std::string_view original) {
  std::string_view text = original;
  if (text.empty()) return bad(original, "empty");
  if (text.front() == '+') {
    text.remove_prefix(1);
  } else if (text.front() == '-') {
    return bad(original, "negative");
  }

  Parts parts;
  bool any_digit = false;
  bool seen_point = false;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    any_digit = true;
    if (parts.digits > kMax * 10) {
      if (!seen_point) ++parts.exp10;
      continue;
    }
    parts.digits = parts.digits * 10 + (c - '0');
    if (seen_point) --parts.exp10;
  }
  if (!any_digit) return bad(original, "no digits");
  std::string_view rest = text.substr(i);
  // Decimal exponent "e3"/"E-2" (but not the "E" suffix on its own).
  if (rest.size() > 1 && (rest[0] == 'e' || rest[0] == 'E')) {
    size_t j = 1;
    bool negative = false;
    if (rest[j] == '+' || rest[j] == '-') negative = rest[j++] == '-';
    if (j < rest.size() && std::isdigit(static_cast<unsigned char>(rest[j]))) {
      int e = 0;
      for (; j < rest.size() && std::isdigit(static_cast<unsigned char>(rest[j])); ++j) {
        e = e * 10 + (rest[j] - '0');
        if (e > kMaxExponent) return bad(original, "exponent out of range");
      }
      if (j != rest.size()) return bad(original, "trailing characters");
      parts.exp10 += negative ? -e : e;
      rest = {};
    }
  }
  for (const auto& suffix : kSuffixes) {
    if (suffix.text == rest) {
      parts.exp10 += suffix.exp10;
      parts.exp2 = suffix.exp2;
      return parts;
    }
  }
  return bad(original, "unknown suffix");
}

// The value in units of 10^-scale_exp10, rounded up; an error past int64.
Result<int64_t> parse_scaled(std::string_view text, int scale_exp10) {
  auto parts = scan(text);
  if (!parts) return parts.error();
  Int value = parts->digits;
  int exp10 = parts->exp10 + scale_exp10;
  for (int b = 0; b < parts->exp2; ++b) {
    value *= 2;
    if (value > kMax) return bad(text, "out of range");
  }
  if (value == 0) return int64_t{0};
  for (; exp10 > 0; --exp10) {
    value *= 10;
    if (value > kMax) return bad(text, "out of range");
  }
  if (exp10 < 0) {
    Int divisor = 1;
    for (; exp10 < 0 && divisor <= kMax; ++exp10) divisor *= 10;
    value = (value + divisor - 1) / divisor;  // round up, like the apiserver
  }
  if (value > kMax) return bad(text, "out of range");
  return static_cast<int64_t>(value);
}

}  // namespace

Result<int64_t> parse_milli(std::string_view text) { return parse_scaled(text, 3); }
Result<int64_t> parse_units(std::string_view text) { return parse_scaled(text, 0); }
bool is_valid_quantity(std::string_view text) { return scan(text).ok(); }

}  // namespace ballast::kube
