#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <nlohmann/json.hpp>

namespace ballast {
namespace {

std::atomic<LogLevel> g_min_level{LogLevel::kInfo};
std::mutex g_output_mutex;

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[96];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<int>(millis));
  return buffer;
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return invalid_argument("log level must be debug, info, warn or error, got \"" + std::string(text) + "\"");
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

void set_log_level(LogLevel level) { g_min_level.store(level); }

bool Logger::enabled(LogLevel level) const { return level >= g_min_level.load(std::memory_order_relaxed); }

void Logger::log(LogLevel level, std::string_view message, LogFields fields) const {
  if (!enabled(level)) return;
  nlohmann::json line = {{"ts", utc_timestamp()},
                         {"level", log_level_name(level)},
                         {"logger", component_},
                         {"msg", message}};
  for (const auto& [key, field] : fields) {
    std::visit([&line, key = std::string(key)](const auto& value) { line[key] = value; }, field.value());
  }
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(g_output_mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace ballast
