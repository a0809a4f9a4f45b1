#include "core/timestamp.h"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace ballast {
namespace {

int two_digits(std::string_view s, size_t at) {
  if (at + 2 > s.size() || !std::isdigit(static_cast<unsigned char>(s[at])) ||
      !std::isdigit(static_cast<unsigned char>(s[at + 1]))) {
    return -1;
  }
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

// The years a TimePoint holds whole, with a year's margin for zone offsets.
constexpr int kFirstYear = 1679;
constexpr int kLastYear = 2261;

}  // namespace

Result<TimePoint> parse_time(std::string_view s) {
  const auto bad = [&] { return invalid_argument("invalid RFC 3339 time \"" + std::string(s) + "\""); };
  // YYYY-MM-DDTHH:MM:SS
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':') {
    return bad();
  }
  const int y1 = two_digits(s, 0), y2 = two_digits(s, 2), mo = two_digits(s, 5), d = two_digits(s, 8),
            h = two_digits(s, 11), mi = two_digits(s, 14), sec = two_digits(s, 17);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      sec < 0 || sec > 60) {
    return bad();
  }
  size_t i = 19;
  std::chrono::nanoseconds fraction{0};
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t ns = 0;
    int n = 0;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++n) {
      if (n < 9) ns = ns * 10 + (s[i] - '0');
    }
    if (n == 0) return bad();
    for (int k = n; k < 9; ++k) ns *= 10;
    fraction = std::chrono::nanoseconds(ns);
  }
  int offset_seconds = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int oh = two_digits(s, i + 1), om = two_digits(s, i + 4);
    if (oh < 0 || om < 0 || i + 6 > s.size() || s[i + 3] != ':') return bad();
    offset_seconds = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  // TimePoint counts nanoseconds in an int64: years outside 1678..2261 would overflow it.
  const int year = y1 * 100 + y2;
  if (year < kFirstYear || year > kLastYear) {
    return invalid_argument("time \"" + std::string(s) + "\" is outside the years " + std::to_string(kFirstYear) +
                            " to " + std::to_string(kLastYear));
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const time_t epoch = timegm(&tm);
  return TimePoint(std::chrono::seconds(epoch - offset_seconds)) +
         std::chrono::duration_cast<TimePoint::duration>(fraction);
}

std::string format_time(TimePoint time) {
  const time_t epoch = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(time));
  std::tm tm{};
  gmtime_r(&epoch, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string format_micro_time(TimePoint time) {
  const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(time);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(time - seconds).count();
  std::string text = format_time(seconds);
  char fraction[16];
  std::snprintf(fraction, sizeof(fraction), ".%06lldZ", static_cast<long long>(micros));
  text.pop_back();
  return text + fraction;
}

}  // namespace ballast
