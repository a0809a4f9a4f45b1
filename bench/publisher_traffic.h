#pragma once

// Session publishers changing their counts once a second, paced across the second as
// independent publishers would be: the load of peers_bench --publishers and of
// scaler_bench --mode publishers (bench/soak.sh). Each SessionPublisher owns an io_context (a
// few descriptors), so callers spread thousands of them over child processes.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "demo/support/session_publisher.h"

namespace ballast::bench {

using Publishers = std::vector<std::unique_ptr<sessions::SessionPublisher>>;

// Publishers first, first + step, … below total, each named "pub-<index>"; stops at the
// first refused connection (printed) and returns those connected so far.
inline Publishers connect_publishers(const std::string& host, uint16_t port, const std::string& token, int first,
                                     int step, int total) {
  Publishers open;
  for (int i = first; i < total; i += step) {
    auto publisher = sessions::SessionPublisher::connect(host, port, token, sessions::kSessionsPath,
                                                         "pub-" + std::to_string(i));
    if (!publisher.ok()) {
      std::fprintf(stderr, "publisher %d: %s\n", i, publisher.error().message.c_str());
      break;
    }
    open.push_back(std::move(*publisher));
  }
  return open;
}

// One frame per publisher per second for `seconds` (counter "traffic", seven services, values
// 0..49 moving every second); returns how many sends failed.
inline long publish_changing_counts(Publishers& open, int seconds) {
  using Clock = std::chrono::steady_clock;
  long failed = 0;
  const auto start = Clock::now();
  for (int second = 0; second < seconds; ++second) {
    const auto tick = start + std::chrono::seconds(second);
    for (size_t j = 0; j < open.size(); ++j) {
      std::this_thread::sleep_until(tick + std::chrono::microseconds(1'000'000LL * static_cast<long long>(j) /
                                                                      static_cast<long long>(open.size())));
      const std::string frame = R"({"counter":"traffic","labels":{"service":"s)" + std::to_string(j % 7) +
                                R"("},"value":)" + std::to_string((second + static_cast<int>(j)) % 50) + "}";
      if (!open[j]->send(frame).ok()) ++failed;
    }
  }
  return failed;
}

}  // namespace ballast::bench
