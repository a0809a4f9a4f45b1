#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
// A series costs up to ~7 KB when its frame uses the whole 4 KiB (32 long labels; measured
// in bench/RESULTS.md), so the defaults keep the worst case near 140 MB, inside the chart's
// 256Mi limit, while leaving room for thousands of ordinary one- or two-label publishers.
inline constexpr size_t kDefaultMaxSeries = 20'480;
inline constexpr size_t kDefaultMaxSeriesPerToken = 10'240;

struct SeriesKey {
  std::string counter;
  std::vector<std::pair<std::string, std::string>> labels;  // sorted by key, unique keys
  auto operator<=>(const SeriesKey&) const = default;
};
using SeriesMap = std::map<SeriesKey, double>;

// One publisher connection's share, as replicas exchange it (peer_wire.h): the full set of
// its series, the publisher id it named at upgrade (may be empty) and its stamp, a hybrid
// logical clock in microseconds that orders connections of one publisher id cluster-wide.
struct ConnectionShare {
  uint64_t connection = 0;  // the id on the replica that holds the connection
  std::string publisher;
  int64_t stamp = 0;
  SeriesMap series;
};

struct RegistryOptions {
  // This replica's id, the tie-break between equal stamps; empty for a lone replica.
  std::string replica_id;
  // Wall time in microseconds, for stamps; the system clock unless a test injects one.
  std::function<int64_t()> wall_micros;
  // Series held for local connections at most, in all and per bearer token (one token
  // holder must not fill the replica). Series shared by peers do not count: each replica
  // caps its own publishers.
  size_t max_series = kDefaultMaxSeries;
  size_t max_series_per_token = kDefaultMaxSeriesPerToken;
};

// The live state of every publisher connection: each connection's gauges per series
// (counter + labels), and the watched sums the scaler reads. Sums are kept incrementally
// and published to the MetricHub whenever they change, so a KEDA read never scans series.
//
// Series of publishers connected to other replicas (peers) are held here too, keyed by
// the replica that holds them, and count in the same sums. Of all live connections, local
// or remote, that named the same publisher id only the newest (by stamp, then replica id,
// then connection id) counts; the others stay held but shadowed, so a reconnect to
// another replica never counts twice and the next newest takes over when the newest ends.
//
// Owned by the composition root; must outlive the SessionServer and the gRPC service
// that call it. Thread-safe: every call takes one mutex. Publishing to the hub happens
// under that mutex so the hub never sees two sums of one key out of order; hub listeners
// therefore must not call back into the registry.
class SessionRegistry final : public scaler::MetricSource {
 public:
  SessionRegistry(scaler::MetricHub& hub, MetricsRegistry& metrics, RegistryOptions options = {});

  // Starts keeping spec.source_key equal to the sum of the counter's series whose labels
  // contain the selector, and publishes the current sum at once. Specs of other sources
  // are ignored.
  void watch(const scaler::TriggerSpec& spec) override;

  // `publisher` is the X-Ballast-Publisher id, empty when the publisher named none;
  // `token` tells which accepted bearer token it presented (its index; 0 when insecure).
  uint64_t open_connection(const std::string& publisher = {}, size_t token = 0);
  // kInvalidArgument when the frame would push a gauge past the largest double;
  // kTooManyRequests when a new series would pass kMaxSeriesPerConnection, max_series or
  // max_series_per_token; kNotFound for a connection that is not open. A failed frame
  // changes nothing.
  Status apply(uint64_t connection, const Frame& frame);
  // Drops every series of the connection; unknown ids are ignored.
  void close_connection(uint64_t connection);

  // Publishes every watched sum again, so hub entries of quiet counters never go stale.
  void refresh();

  // Counts a frame the server rejected before it reached apply() (bad JSON, binary).
  void count_invalid_frame();

  // --- Local shares, read by the peer links that push them.
  // Called with a local connection's id whenever its share changes (open, frame, close),
  // under the registry's lock: it must not call back into the registry. Set before
  // connections open; called from the pool's threads.
  void set_local_listener(std::function<void(uint64_t connection)> listener);
  // The current share of each listed local connection; nullopt for one that has closed.
  std::vector<std::pair<uint64_t, std::optional<ConnectionShare>>> local_shares(const std::vector<uint64_t>& ids) const;
  std::vector<ConnectionShare> all_local_shares() const;

  // --- Remote shares, applied by the peer links that receive them. `origin` is the
  // replica id of the peer; `generation` tells one link's snapshot from the last.
  // Replaces (or adds) one remote connection's share.
  void apply_remote(const std::string& origin, uint64_t generation, ConnectionShare share);
  void remove_remote(const std::string& origin, uint64_t connection);
  // Drops the origin's connections not refreshed by `generation` (the end of a snapshot).
  void sweep_remote(const std::string& origin, uint64_t generation);
  // Drops every connection of the origin (a peer that died or stayed unreachable).
  void drop_origin(const std::string& origin);
  // Remote connections held per origin (for status and metrics).
  std::map<std::string, size_t> remote_connections() const;

 private:
  struct Watch {
    std::string key;
    std::string counter;
    std::vector<std::pair<std::string, std::string>> selector;
    double sum = 0;
    size_t matching = 0;  // live series that match, so an empty sum is exactly 0
  };
  struct Connection {
    SeriesMap series;
    std::string publisher;
    int64_t stamp = 0;
    size_t token = 0;           // local only: the bearer token it presented
    std::string origin;         // empty: local
    uint64_t remote_id = 0;     // the id on the origin replica
    uint64_t generation = 0;
    bool counted = true;        // false while a newer connection of its publisher id counts
  };
  // Orders connections of one publisher id: the greatest counts.
  struct Rank {
    int64_t stamp;
    const std::string* origin;
    uint64_t id;
    bool operator<(const Rank& other) const;
  };

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

  int64_t next_stamp();
  uint64_t add_connection(Connection connection, std::vector<Touched>& touched);
  void remove_connection(uint64_t id, std::vector<Touched>& touched);
  // Moves every series of the connection in or out of the sums.
  void count(const Connection& connection, int sign, std::vector<Touched>& touched);
  // Makes the newest connection of the publisher id the only one counted.
  void elect(const std::string& publisher, std::vector<Touched>& touched);
  Rank rank(uint64_t id, const Connection& connection) const;
  void notify_local(uint64_t id) const;
  // Why one more series for this local connection would be refused, or Ok.
  Status check_series_limits(const Connection& connection) const;
  // Keeps local_series_ and local_series_by_token_ in step with a local connection's series.
  void count_local_series(const Connection& connection, int64_t change);

  scaler::MetricHub& hub_;
  Gauge& connections_gauge_;
  Gauge& series_gauge_;
  Counter& frames_ok_;
  Counter& frames_invalid_;
  Logger log_{"sessions"};

  mutable std::mutex mutex_;
  uint64_t next_connection_ = 1;
  const RegistryOptions options_;
  std::function<void(uint64_t)> local_listener_;
  int64_t last_stamp_ = 0;
  std::unordered_map<uint64_t, Connection> connections_;
  size_t local_series_ = 0;                                  // series of local connections
  std::unordered_map<size_t, size_t> local_series_by_token_;  // token → series; no zeros
  std::map<std::string, std::set<uint64_t>> by_publisher_;               // non-empty ids only
  std::map<std::pair<std::string, uint64_t>, uint64_t> remote_index_;    // (origin, remote id) → id
  std::map<std::string, Watch> watches_;  // by source key; map nodes keep Watch* stable
  std::unordered_map<std::string, std::vector<Watch*>> watches_by_counter_;
};

}  // namespace ballast::sessions
