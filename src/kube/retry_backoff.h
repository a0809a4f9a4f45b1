#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "core/clock.h"

namespace ballast::kube {

// Per-key exponential backoff for a controller's failed writes (client-go's
// ItemExponentialFailureRateLimiter): the n-th failure in a row of one key makes it wait
// base·2^(n-1), at most `cap`, before its next attempt; a success forgets the key. Keys
// name one write target ("pdb|shop/web-ballast", "status|general"). No jitter: one worker
// thread retries, so there is no herd to spread, and the times stay exact in tests.
//
// Pure: time is passed in. Not thread-safe; a controller's worker thread owns it.
class RetryBackoff {
 public:
  using time_point = Clock::time_point;

  struct Options {
    std::chrono::milliseconds base{1'000};
    std::chrono::milliseconds cap{300'000};
  };

  RetryBackoff() = default;
  explicit RetryBackoff(Options options) : options_(options) {}

  // Records a failed attempt of `key` at `now`; returns when the next one is due. Keys
  // idle for longer than `cap` past their due time are forgotten here (their object went
  // away or was written by someone else), so the map stays as small as what is failing.
  time_point failure(const std::string& key, time_point now);
  void success(const std::string& key) { entries_.erase(key); }
  // True when `key` may be attempted at `now`: never failed, or its wait is over.
  bool due(const std::string& key, time_point now) const;
  // Failures in a row of `key` (0 when it is not backing off).
  int failures(const std::string& key) const;
  // The earliest due time still after `now`: when a waiting key may be retried.
  std::optional<time_point> next_due(time_point now) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int failures = 0;
    time_point due;
  };

  const Options options_;
  std::map<std::string, Entry> entries_;
};

}  // namespace ballast::kube
