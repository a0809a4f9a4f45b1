#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/result.h"

namespace ballast {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

Result<LogLevel> parse_log_level(std::string_view text);
std::string_view log_level_name(LogLevel level);

// The process-wide minimum level; set once at start-up (the one global the style allows).
void set_log_level(LogLevel level);

// One structured field of a log line.
class LogValue {
 public:
  LogValue(std::string_view text) : value_(std::string(text)) {}  // NOLINT(google-explicit-constructor)
  LogValue(const char* text) : value_(std::string(text)) {}       // NOLINT(google-explicit-constructor)
  LogValue(std::string text) : value_(std::move(text)) {}         // NOLINT(google-explicit-constructor)
  LogValue(bool flag) : value_(flag) {}                           // NOLINT(google-explicit-constructor)
  LogValue(double number) : value_(number) {}                     // NOLINT(google-explicit-constructor)
  template <typename Int, typename = std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>>>
  LogValue(Int number) : value_(static_cast<int64_t>(number)) {}  // NOLINT(google-explicit-constructor)

  const std::variant<std::string, int64_t, double, bool>& value() const { return value_; }

 private:
  std::variant<std::string, int64_t, double, bool> value_;
};

using LogFields = std::initializer_list<std::pair<std::string_view, LogValue>>;

// A named logger: one JSON object per line on stderr, {"ts","level","logger","msg",...fields}.
// Cheap to copy; safe to use from any thread (lines are written whole under a lock).
class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}

  bool enabled(LogLevel level) const;
  void log(LogLevel level, std::string_view message, LogFields fields = {}) const;

  void debug(std::string_view message, LogFields fields = {}) const { log(LogLevel::kDebug, message, fields); }
  void info(std::string_view message, LogFields fields = {}) const { log(LogLevel::kInfo, message, fields); }
  void warn(std::string_view message, LogFields fields = {}) const { log(LogLevel::kWarn, message, fields); }
  void error(std::string_view message, LogFields fields = {}) const { log(LogLevel::kError, message, fields); }

 private:
  std::string component_;
};

}  // namespace ballast
