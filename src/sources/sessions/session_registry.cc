#include "sources/sessions/session_registry.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <variant>

namespace ballast::sessions {
namespace {

constexpr const char* kFramesName = "ballast_sessions_frames_total";
constexpr const char* kFramesHelp = "Publisher frames received, by outcome.";

}  // namespace

SessionRegistry::SessionRegistry(scaler::MetricHub& hub, MetricsRegistry& metrics)
    : hub_(hub),
      connections_gauge_(metrics.gauge("ballast_sessions_connections", "Open publisher WebSocket connections.")),
      series_gauge_(metrics.gauge("ballast_sessions_series", "Live counter series across all publishers.")),
      frames_ok_(metrics.counter(kFramesName, kFramesHelp, {{"result", "ok"}})),
      frames_invalid_(metrics.counter(kFramesName, kFramesHelp, {{"result", "invalid"}})) {}

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

uint64_t SessionRegistry::open_connection() {
  std::lock_guard lock(mutex_);
  const uint64_t id = next_connection_++;
  connections_.try_emplace(id);
  connections_gauge_.add(1);
  return id;
}

Status SessionRegistry::apply(uint64_t connection, const Frame& frame) {
  std::lock_guard lock(mutex_);
  const auto conn = connections_.find(connection);
  if (conn == connections_.end()) {
    return Error{ErrorCode::kNotFound, "connection " + std::to_string(connection) + " is not open"};
  }
  SeriesMap& series = conn->second;
  SeriesKey key{frame.counter, frame.labels};
  auto it = series.find(key);
  const bool is_new = it == series.end();
  if (is_new && series.size() >= kMaxSeriesPerConnection) {
    frames_invalid_.increment();
    return invalid_argument("a connection may publish at most " + std::to_string(kMaxSeriesPerConnection) +
                            " series; this frame would add another");
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
  } else {
    it->second = new_value;
  }
  frames_ok_.increment();

  std::vector<Touched> touched;
  update_watches(it->first, new_value - old_value, is_new ? 1 : 0, touched);
  settle(touched);
  return Ok{};
}

void SessionRegistry::close_connection(uint64_t connection) {
  std::lock_guard lock(mutex_);
  const auto conn = connections_.find(connection);
  if (conn == connections_.end()) return;
  // Gone from connections_ before the watches move, so a recompute no longer sees it.
  const SeriesMap closing = std::move(conn->second);
  connections_.erase(conn);
  series_gauge_.add(-static_cast<double>(closing.size()));
  connections_gauge_.add(-1);
  std::vector<Touched> touched;
  for (const auto& [series, value] : closing) update_watches(series, -value, -1, touched);
  settle(touched);
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
  for (const auto& [id, series] : connections_) {
    // Series are ordered by counter first, so the counter's series are one contiguous range.
    for (auto it = series.lower_bound(first); it != series.end() && it->first.counter == watch.counter; ++it) {
      if (!matches(watch, it->first)) continue;
      sum += it->second;
      ++matching;
    }
  }
  return {sum, matching};
}

}  // namespace ballast::sessions
