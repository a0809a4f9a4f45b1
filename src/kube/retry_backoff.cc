#include "kube/retry_backoff.h"

#include <algorithm>

namespace ballast::kube {

RetryBackoff::time_point RetryBackoff::failure(const std::string& key, time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->first != key && now - it->second.due > options_.cap ? entries_.erase(it) : std::next(it);
  }
  Entry& entry = entries_[key];
  ++entry.failures;
  std::chrono::nanoseconds wait = options_.base;
  // Doubling stops at the cap, so a long run of failures cannot overflow the shift.
  for (int i = 1; i < entry.failures && wait < options_.cap; ++i) wait *= 2;
  entry.due = now + std::min<std::chrono::nanoseconds>(wait, options_.cap);
  return entry.due;
}

bool RetryBackoff::due(const std::string& key, time_point now) const {
  const auto it = entries_.find(key);
  return it == entries_.end() || now >= it->second.due;
}

int RetryBackoff::failures(const std::string& key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.failures;
}

std::optional<RetryBackoff::time_point> RetryBackoff::next_due(time_point now) const {
  std::optional<time_point> earliest;
  for (const auto& [key, entry] : entries_) {
    if (entry.due > now && (!earliest || entry.due < *earliest)) earliest = entry.due;
  }
  return earliest;
}

}  // namespace ballast::kube
