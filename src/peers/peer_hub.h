#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/metrics.h"

namespace ballast::net {
class IoPool;
}
namespace ballast::sessions {
class SessionRegistry;
struct PeerUpgrade;
}  // namespace ballast::sessions

namespace ballast::peers {

struct PeerOptions {
  std::string replica_id;                 // random per process: a restarted replica is a new peer
  std::vector<std::string> static_peers;  // host:port of the peers' sessions listeners (may include us)
  std::string dns_name;                   // NAME or NAME:PORT; its A/AAAA records are peers
  // Peers also come from set_service_peers() (the peers Service's EndpointSlices);
  // readiness waits for its first call.
  bool service_discovery = false;
  std::string token;                      // presented to peers as a bearer token
  std::chrono::milliseconds heartbeat{1000};
  // A peer silent this many heartbeats stops counting (the expiry bound).
  int missed_heartbeats = 3;
  std::chrono::milliseconds dns_period{5000};
  // Readiness waits at most this long for the reachable peers' first snapshots.
  std::chrono::milliseconds sync_wait{5000};
  size_t connections_per_frame = 500;  // snapshot chunking
};

struct PeerStatus {
  enum class State { kSelf, kUp, kMissing };
  std::string address;  // host:port as configured or resolved; never a credential
  State state = State::kMissing;
};

// Shares this replica's local session series with its peers and folds theirs into the
// SessionRegistry, so every replica answers with the cluster-wide sum.
//
// Each replica dials every peer address (static list and DNS answers) on `/v1/peers`
// and pushes its own share over that link: a snapshot when the link starts, then every
// local connection's share as it changes (coalesced while a write is in flight), and a
// heartbeat. It receives the peers' shares on the links they dial to it, which the sessions
// listener hands over via accept(). A link silent past the bound is closed; the shares
// its peer sent stop counting then (or `bound` after a link breaks; at once when the peer
// closes it normally on shutdown). Dialing oneself is found at the handshake (409) and
// never retried. An address that leaves discovery (DNS or the EndpointSlices) takes the
// share of the replica found there with it at once, and that replica's links are refused
// (403) until this replica reaches it again at a discovered address.
//
// Owned by the composition root: built before the sessions listener (which hands it
// upgrades) and started once the listener has its port; stop() before the IoPool stops.
// Links run on the pool's threads, one strand each; other calls are thread-safe.
class PeerHub {
 public:
  PeerHub(net::IoPool& pool, PeerOptions options, sessions::SessionRegistry& registry, MetricsRegistry& metrics);
  ~PeerHub();
  PeerHub(const PeerHub&) = delete;
  PeerHub& operator=(const PeerHub&) = delete;

  void start(uint16_t sessions_port);
  void accept(sessions::PeerUpgrade&& upgrade);
  // The peer addresses (host:port) the peers Service's EndpointSlices name now; replaces
  // the previous call's. Any thread; does not block.
  void set_service_peers(std::set<std::string> addresses);
  // Synced once with every peer that answered (or sync_wait passed); stays true after.
  bool ready() const;
  std::vector<PeerStatus> peers() const;
  // Pushes what is pending, closes the links (peers drop our share at once), bounded.
  void stop();

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace ballast::peers
