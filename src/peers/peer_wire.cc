#include "peers/peer_wire.h"

#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

namespace ballast::peers {
namespace {

using nlohmann::json;

}  // namespace

std::string encode_update(const PeerUpdate& update) {
  json out = json::object();
  if (!update.shares.empty()) {
    json pubs = json::array();
    for (const auto& share : update.shares) {
      json series = json::array();
      for (const auto& [key, value] : share.series) {
        json labels = json::object();
        for (const auto& [name, label] : key.labels) labels[name] = label;
        series.push_back(json::array({key.counter, std::move(labels), value}));
      }
      pubs.push_back({{"c", share.connection}, {"p", share.publisher}, {"s", share.stamp}, {"series", std::move(series)}});
    }
    out["pubs"] = std::move(pubs);
  }
  if (!update.gone.empty()) out["gone"] = update.gone;
  if (update.synced) out["synced"] = true;
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<PeerUpdate> decode_update(std::string_view text) {
  const json in = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!in.is_object()) return invalid_argument("peer frame is not a JSON object");
  PeerUpdate update;
  if (const auto pubs = in.find("pubs"); pubs != in.end()) {
    if (!pubs->is_array()) return invalid_argument("peer frame: pubs is not an array");
    for (const auto& pub : *pubs) {
      if (!pub.is_object()) return invalid_argument("peer frame: a pub is not an object");
      const auto c = pub.find("c"), p = pub.find("p"), s = pub.find("s"), series = pub.find("series");
      if (c == pub.end() || !c->is_number_unsigned() || p == pub.end() || !p->is_string() || s == pub.end() ||
          !s->is_number_integer() || series == pub.end() || !series->is_array()) {
        return invalid_argument("peer frame: a pub lacks c, p, s or series");
      }
      sessions::ConnectionShare share{c->get<uint64_t>(), p->get<std::string>(), s->get<int64_t>(), {}};
      for (const auto& entry : *series) {
        if (!entry.is_array() || entry.size() != 3 || !entry[0].is_string() || !entry[1].is_object() ||
            !entry[2].is_number()) {
          return invalid_argument("peer frame: a series is not [counter, labels, value]");
        }
        sessions::SeriesKey key{entry[0].get<std::string>(), {}};
        for (const auto& [name, label] : entry[1].items()) {
          if (!label.is_string()) return invalid_argument("peer frame: a label value is not a string");
          key.labels.emplace_back(name, label.get<std::string>());  // JSON objects iterate sorted by key
        }
        const double value = entry[2].get<double>();
        if (!(value >= 0) || value > std::numeric_limits<double>::max()) {
          return invalid_argument("peer frame: a series value is negative or not finite");
        }
        share.series[std::move(key)] = value;
      }
      if (share.series.size() > sessions::kMaxSeriesPerConnection) {
        return invalid_argument("peer frame: a connection with more series than allowed");
      }
      update.shares.push_back(std::move(share));
    }
  }
  if (const auto gone = in.find("gone"); gone != in.end()) {
    if (!gone->is_array()) return invalid_argument("peer frame: gone is not an array");
    for (const auto& id : *gone) {
      if (!id.is_number_unsigned()) return invalid_argument("peer frame: a gone id is not a number");
      update.gone.push_back(id.get<uint64_t>());
    }
  }
  if (const auto synced = in.find("synced"); synced != in.end()) update.synced = synced->is_boolean() && synced->get<bool>();
  return update;
}

std::vector<PeerUpdate> snapshot_updates(std::vector<sessions::ConnectionShare> shares, size_t per_frame) {
  std::vector<PeerUpdate> out;
  PeerUpdate current;
  for (auto& share : shares) {
    current.shares.push_back(std::move(share));
    if (current.shares.size() >= per_frame) out.push_back(std::exchange(current, {}));
  }
  current.synced = true;
  out.push_back(std::move(current));
  return out;
}

}  // namespace ballast::peers
