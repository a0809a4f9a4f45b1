#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"
#include "core/metrics.h"
#include "core/result.h"
#include "scaler/metric_hub.h"
#include "scaler/metric_source.h"
#include "sources/sessions/frame.h"

namespace ballast::sessions {

inline constexpr size_t kMaxSeriesPerConnection = 256;

// The live state of every publisher connection: each connection's gauges per series
// (counter + labels), and the watched sums the scaler reads. Sums are kept incrementally
// and published to the MetricHub whenever they change, so a KEDA read never scans series.
//
// Owned by the composition root; must outlive the SessionServer and the gRPC service
// that call it. Thread-safe: every call takes one mutex. Publishing to the hub happens
// under that mutex so the hub never sees two sums of one key out of order; hub listeners
// therefore must not call back into the registry.
class SessionRegistry final : public scaler::MetricSource {
 public:
  SessionRegistry(scaler::MetricHub& hub, MetricsRegistry& metrics);

  // Starts keeping spec.source_key equal to the sum of the counter's series whose labels
  // contain the selector, and publishes the current sum at once. Specs of other sources
  // are ignored.
  void watch(const scaler::TriggerSpec& spec) override;

  uint64_t open_connection();
  // kInvalidArgument when the frame would give the connection more than
  // kMaxSeriesPerConnection series or push a gauge past the largest double; kNotFound for
  // a connection that is not open. A failed frame changes nothing.
  Status apply(uint64_t connection, const Frame& frame);
  // Drops every series of the connection; unknown ids are ignored.
  void close_connection(uint64_t connection);

  // Publishes every watched sum again, so hub entries of quiet counters never go stale.
  void refresh();

  // Counts a frame the server rejected before it reached apply() (bad JSON, binary).
  void count_invalid_frame();

 private:
  struct SeriesKey {
    std::string counter;
    std::vector<std::pair<std::string, std::string>> labels;
    auto operator<=>(const SeriesKey&) const = default;
  };
  struct Watch {
    std::string key;
    std::string counter;
    std::vector<std::pair<std::string, std::string>> selector;
    double sum = 0;
    size_t matching = 0;  // live series that match, so an empty sum is exactly 0
  };
  using SeriesMap = std::map<SeriesKey, double>;

  struct Touched {
    Watch* watch;
    double before;  // the sum last published
  };

  static bool matches(const Watch& watch, const SeriesKey& series);
  // Moves every watch the series feeds by `change`; `membership` is +1 when the series
  // starts to exist, -1 when it goes away, else 0. Records each watch once in `touched`.
  void update_watches(const SeriesKey& series, double change, int membership, std::vector<Touched>& touched);
  // Once a batch of updates is in: corrects the touched sums, publishes those that changed.
  void settle(const std::vector<Touched>& touched);
  // Exact sum and count of the live series a watch matches, from scratch.
  std::pair<double, size_t> recompute(const Watch& watch) const;

  scaler::MetricHub& hub_;
  Gauge& connections_gauge_;
  Gauge& series_gauge_;
  Counter& frames_ok_;
  Counter& frames_invalid_;
  Logger log_{"sessions"};

  mutable std::mutex mutex_;
  uint64_t next_connection_ = 1;
  std::unordered_map<uint64_t, SeriesMap> connections_;
  std::map<std::string, Watch> watches_;  // by source key; map nodes keep Watch* stable
  std::unordered_map<std::string, std::vector<Watch*>> watches_by_counter_;
};

}  // namespace ballast::sessions
