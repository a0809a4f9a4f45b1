#include "sources/sessions/session_registry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <tuple>
#include <variant>

namespace ballast::sessions {
namespace {

constexpr const char* kFramesName = "ballast_sessions_frames_total";
constexpr const char* kFramesHelp = "Publisher frames received, by outcome.";

}  // namespace

SessionRegistry::SessionRegistry(scaler::MetricHub& hub, MetricsRegistry& metrics, RegistryOptions options)
    : hub_(hub),
      connections_gauge_(metrics.gauge("ballast_sessions_connections", "Open publisher WebSocket connections.")),
      series_gauge_(metrics.gauge("ballast_sessions_series", "Live counter series across all publishers.")),
      frames_ok_(metrics.counter(kFramesName, kFramesHelp, {{"result", "ok"}})),
      frames_invalid_(metrics.counter(kFramesName, kFramesHelp, {{"result", "invalid"}})),
      options_(std::move(options)) {}

void SessionRegistry::watch(const scaler::TriggerSpec& spec) {
  const auto* trigger = std::get_if<scaler::SessionsTrigger>(&spec.detail);
  if (spec.source != scaler::SourceKind::kSessions || trigger == nullptr) {
    log_.warn("ignoring a watch for another source", {{"source", spec.source_name}});
    return;
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = watches_.try_emplace(spec.source_key);
  Watch& watch = it->second;
  if (inserted) {
    watch.key = spec.source_key;
    watch.counter = trigger->counter;
    watch.selector = trigger->selector;
    std::tie(watch.sum, watch.matching) = recompute(watch);
    watches_by_counter_[watch.counter].push_back(&watch);
  }
  hub_.publish(watch.key, watch.sum);
}

uint64_t SessionRegistry::open_connection(const std::string& publisher, size_t token) {
  std::lock_guard lock(mutex_);
  Connection connection;
  connection.publisher = publisher;
  connection.token = token;
  connection.stamp = next_stamp();
  std::vector<Touched> touched;
  const uint64_t id = add_connection(std::move(connection), touched);
  settle(touched);
  connections_gauge_.add(1);
  notify_local(id);
  return id;
}

Status SessionRegistry::apply(uint64_t connection, const Frame& frame) {
  std::lock_guard lock(mutex_);
  const auto conn = connections_.find(connection);
  if (conn == connections_.end() || !conn->second.origin.empty()) {
    return Error{ErrorCode::kNotFound, "connection " + std::to_string(connection) + " is not open"};
  }
  SeriesMap& series = conn->second.series;
  SeriesKey key{frame.counter, frame.labels};
  auto it = series.find(key);
  const bool is_new = it == series.end();
  if (is_new) {
    if (auto allowed = check_series_limits(conn->second); !allowed) {
      frames_invalid_.increment();
      return allowed;
    }
  }
  const double old_value = is_new ? 0.0 : it->second;
  const double new_value =
      frame.kind == Frame::Kind::kValue ? frame.amount : std::max(0.0, old_value + frame.amount);
  if (!std::isfinite(new_value)) {
    frames_invalid_.increment();
    return invalid_argument("delta would push the series past the largest representable number");
  }
  if (is_new) {
    it = series.emplace(std::move(key), new_value).first;
    series_gauge_.add(1);
    count_local_series(conn->second, +1);
  } else {
    it->second = new_value;
  }
  frames_ok_.increment();

  if (conn->second.counted) {
    std::vector<Touched> touched;
    update_watches(it->first, new_value - old_value, is_new ? 1 : 0, touched);
    settle(touched);
  }
  notify_local(connection);
  return Ok{};
}

void SessionRegistry::close_connection(uint64_t connection) {
  std::lock_guard lock(mutex_);
  const auto conn = connections_.find(connection);
  if (conn == connections_.end() || !conn->second.origin.empty()) return;
  connections_gauge_.add(-1);
  std::vector<Touched> touched;
  remove_connection(connection, touched);
  settle(touched);
  notify_local(connection);
}

void SessionRegistry::set_local_listener(std::function<void(uint64_t)> listener) {
  std::lock_guard lock(mutex_);
  local_listener_ = std::move(listener);
}

std::vector<std::pair<uint64_t, std::optional<ConnectionShare>>> SessionRegistry::local_shares(
    const std::vector<uint64_t>& ids) const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<uint64_t, std::optional<ConnectionShare>>> out;
  out.reserve(ids.size());
  for (const uint64_t id : ids) {
    const auto it = connections_.find(id);
    if (it == connections_.end() || !it->second.origin.empty()) {
      out.emplace_back(id, std::nullopt);
    } else {
      out.emplace_back(id, ConnectionShare{id, it->second.publisher, it->second.stamp, it->second.series});
    }
  }
  return out;
}

std::vector<ConnectionShare> SessionRegistry::all_local_shares() const {
  std::lock_guard lock(mutex_);
  std::vector<ConnectionShare> out;
  for (const auto& [id, connection] : connections_) {
    if (connection.origin.empty()) out.push_back({id, connection.publisher, connection.stamp, connection.series});
  }
  return out;
}

void SessionRegistry::apply_remote(const std::string& origin, uint64_t generation, ConnectionShare share) {
  std::lock_guard lock(mutex_);
  last_stamp_ = std::max(last_stamp_, share.stamp);
  std::vector<Touched> touched;
  const auto known = remote_index_.find({origin, share.connection});
  if (known != remote_index_.end()) {
    Connection& held = connections_.at(known->second);
    if (held.publisher == share.publisher && held.stamp == share.stamp) {
      // The usual update: only the series changed, so only they move the sums.
      if (held.counted) count(held, -1, touched);
      series_gauge_.add(static_cast<double>(share.series.size()) - static_cast<double>(held.series.size()));
      held.series = std::move(share.series);
      held.generation = generation;
      if (held.counted) count(held, +1, touched);
      settle(touched);
      return;
    }
    remove_connection(known->second, touched);
  }
  Connection connection;
  connection.series = std::move(share.series);
  connection.publisher = std::move(share.publisher);
  connection.stamp = share.stamp;
  connection.origin = origin;
  connection.remote_id = share.connection;
  connection.generation = generation;
  series_gauge_.add(static_cast<double>(connection.series.size()));
  const uint64_t id = add_connection(std::move(connection), touched);
  remote_index_[{origin, share.connection}] = id;
  settle(touched);
}

void SessionRegistry::remove_remote(const std::string& origin, uint64_t connection) {
  std::lock_guard lock(mutex_);
  const auto known = remote_index_.find({origin, connection});
  if (known == remote_index_.end()) return;
  std::vector<Touched> touched;
  remove_connection(known->second, touched);
  settle(touched);
}

void SessionRegistry::sweep_remote(const std::string& origin, uint64_t generation) {
  std::lock_guard lock(mutex_);
  std::vector<uint64_t> stale;
  for (auto it = remote_index_.lower_bound({origin, 0}); it != remote_index_.end() && it->first.first == origin; ++it) {
    if (connections_.at(it->second).generation < generation) stale.push_back(it->second);
  }
  std::vector<Touched> touched;
  for (const uint64_t id : stale) remove_connection(id, touched);
  settle(touched);
}

void SessionRegistry::drop_origin(const std::string& origin) { sweep_remote(origin, UINT64_MAX); }

std::map<std::string, size_t> SessionRegistry::remote_connections() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, size_t> out;
  for (const auto& [key, id] : remote_index_) ++out[key.first];
  return out;
}

void SessionRegistry::refresh() {
  std::lock_guard lock(mutex_);
  for (const auto& [key, watch] : watches_) hub_.publish(key, watch.sum);
}

void SessionRegistry::count_invalid_frame() { frames_invalid_.increment(); }

bool SessionRegistry::matches(const Watch& watch, const SeriesKey& series) {
  // Both lists are sorted by key with unique keys, hence sorted as pairs too.
  return std::includes(series.labels.begin(), series.labels.end(), watch.selector.begin(), watch.selector.end());
}

void SessionRegistry::update_watches(const SeriesKey& series, double change, int membership,
                                     std::vector<Touched>& touched) {
  const auto candidates = watches_by_counter_.find(series.counter);
  if (candidates == watches_by_counter_.end()) return;
  for (Watch* watch : candidates->second) {
    if (!matches(*watch, series)) continue;
    const bool seen =
        std::any_of(touched.begin(), touched.end(), [watch](const Touched& t) { return t.watch == watch; });
    if (!seen) touched.push_back({watch, watch->sum});
    watch->matching = static_cast<size_t>(static_cast<int64_t>(watch->matching) + membership);
    watch->sum += change;
  }
}

void SessionRegistry::settle(const std::vector<Touched>& touched) {
  for (const auto& [watch, before] : touched) {
    if (watch->matching == 0) {
      // Fractional values can leave rounding residue; with nothing left the sum is exactly
      // 0, or a residue like 1e-17 would keep the workload active (activation is `> 0`).
      watch->sum = 0;
    } else if (!std::isfinite(watch->sum)) {
      // Once the running sum overflows it can no longer be decremented back.
      watch->sum = recompute(*watch).first;
    } else if (watch->sum < 0) {
      watch->sum = 0;
    }
    if (watch->sum != before) hub_.publish(watch->key, watch->sum);
  }
}

std::pair<double, size_t> SessionRegistry::recompute(const Watch& watch) const {
  double sum = 0;
  size_t matching = 0;
  const SeriesKey first{watch.counter, {}};
  for (const auto& [id, connection] : connections_) {
    if (!connection.counted) continue;
    const SeriesMap& series = connection.series;
    // Series are ordered by counter first, so the counter's series are one contiguous range.
    for (auto it = series.lower_bound(first); it != series.end() && it->first.counter == watch.counter; ++it) {
      if (!matches(watch, it->first)) continue;
      sum += it->second;
      ++matching;
    }
  }
  return {sum, matching};
}

int64_t SessionRegistry::next_stamp() {
  const int64_t wall =
      options_.wall_micros ? options_.wall_micros()
                           : std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  // Never behind a stamp already seen, from here or a peer: a reconnect on this replica
  // outranks the connection it replaces even when this replica's clock lags.
  last_stamp_ = std::max(wall, last_stamp_ + 1);
  return last_stamp_;
}

uint64_t SessionRegistry::add_connection(Connection connection, std::vector<Touched>& touched) {
  const uint64_t id = next_connection_++;
  auto& held = connections_.emplace(id, std::move(connection)).first->second;
  held.counted = true;
  count(held, +1, touched);
  if (!held.publisher.empty()) {
    by_publisher_[held.publisher].insert(id);
    elect(held.publisher, touched);
  }
  return id;
}

void SessionRegistry::remove_connection(uint64_t id, std::vector<Touched>& touched) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  // Gone from connections_ before the watches move, so a recompute no longer sees it.
  const Connection closing = std::move(it->second);
  connections_.erase(it);
  series_gauge_.add(-static_cast<double>(closing.series.size()));
  if (closing.origin.empty()) count_local_series(closing, -static_cast<int64_t>(closing.series.size()));
  if (closing.counted) count(closing, -1, touched);
  if (!closing.origin.empty()) remote_index_.erase({closing.origin, closing.remote_id});
  if (!closing.publisher.empty()) {
    auto ids = by_publisher_.find(closing.publisher);
    ids->second.erase(id);
    if (ids->second.empty()) {
      by_publisher_.erase(ids);
    } else {
      elect(closing.publisher, touched);
    }
  }
}

void SessionRegistry::count(const Connection& connection, int sign, std::vector<Touched>& touched) {
  for (const auto& [series, value] : connection.series) update_watches(series, sign * value, sign, touched);
}

bool SessionRegistry::Rank::operator<(const Rank& other) const {
  if (stamp != other.stamp) return stamp < other.stamp;
  if (*origin != *other.origin) return *origin < *other.origin;
  return id < other.id;
}

SessionRegistry::Rank SessionRegistry::rank(uint64_t id, const Connection& connection) const {
  // Remote connections rank by the id they have on their own replica, so every replica
  // elects the same winner.
  return connection.origin.empty() ? Rank{connection.stamp, &options_.replica_id, id}
                                   : Rank{connection.stamp, &connection.origin, connection.remote_id};
}

void SessionRegistry::elect(const std::string& publisher, std::vector<Touched>& touched) {
  const auto ids = by_publisher_.find(publisher);
  if (ids == by_publisher_.end()) return;
  uint64_t newest = 0;
  std::optional<Rank> best;
  for (const uint64_t id : ids->second) {
    const Rank candidate = rank(id, connections_.at(id));
    if (!best || *best < candidate) {
      best = candidate;
      newest = id;
    }
  }
  for (const uint64_t id : ids->second) {
    Connection& connection = connections_.at(id);
    const bool should_count = id == newest;
    if (connection.counted == should_count) continue;
    connection.counted = should_count;
    count(connection, should_count ? +1 : -1, touched);
  }
}

Status SessionRegistry::check_series_limits(const Connection& connection) const {
  const auto refuse = [](const std::string& limit) -> Status {
    return Error{ErrorCode::kTooManyRequests, limit + "; this frame would add another"};
  };
  if (connection.series.size() >= kMaxSeriesPerConnection) {
    return refuse("a connection may publish at most " + std::to_string(kMaxSeriesPerConnection) + " series");
  }
  if (local_series_ >= options_.max_series) {
    return refuse("this replica holds at most " + std::to_string(options_.max_series) +
                  " series of its publishers (--sessions-max-series)");
  }
  const auto by_token = local_series_by_token_.find(connection.token);
  if (by_token != local_series_by_token_.end() && by_token->second >= options_.max_series_per_token) {
    return refuse("the connections of one token may publish at most " +
                  std::to_string(options_.max_series_per_token) + " series (--sessions-max-series-per-token)");
  }
  return Ok{};
}

void SessionRegistry::count_local_series(const Connection& connection, int64_t change) {
  local_series_ = static_cast<size_t>(static_cast<int64_t>(local_series_) + change);
  size_t& by_token = local_series_by_token_[connection.token];
  by_token = static_cast<size_t>(static_cast<int64_t>(by_token) + change);
  if (by_token == 0) local_series_by_token_.erase(connection.token);
}

void SessionRegistry::notify_local(uint64_t id) const {
  if (local_listener_) local_listener_(id);
}

}  // namespace ballast::sessions
