#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "sources/sessions/session_registry.h"

namespace ballast::peers {

// Headers of the peer upgrade: the dialing replica names itself, the accepting replica
// answers with its own id (409 when the dialer reached itself).
inline constexpr const char* kReplicaHeader = "X-Ballast-Replica";

// One frame on a peer link, from the replica that dials to the replica that accepts: the
// full share of each listed local connection (an absent share: the connection closed),
// and `synced` on the last frame of the snapshot a new link starts with. An empty update
// is the heartbeat both ends send. Wire form (JSON text):
//   {"pubs":[{"c":7,"p":"signaling-0","s":1733520000000000,
//             "series":[["active",{"service":"a"},42]]}],
//    "gone":[3],"synced":true}
// Connection granularity keeps a receiver's state exact after any lost frame: each entry
// replaces what it held for that connection, and a link that restarts re-sends all.
struct PeerUpdate {
  std::vector<sessions::ConnectionShare> shares;
  std::vector<uint64_t> gone;
  bool synced = false;
};

std::string encode_update(const PeerUpdate& update);
// Untrusted input (an authenticated peer, but a buggy one must not crash us).
Result<PeerUpdate> decode_update(std::string_view text);

// Splits the `shares` of a snapshot into updates of at most `per_frame` connections; the
// last one (also when there are none) carries `synced`.
std::vector<PeerUpdate> snapshot_updates(std::vector<sessions::ConnectionShare> shares, size_t per_frame);

}  // namespace ballast::peers
