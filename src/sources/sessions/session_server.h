#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "core/result.h"

namespace ballast::net {
class IoPool;
}

namespace ballast::sessions {

class SessionRegistry;
struct PeerUpgrade;

inline constexpr const char* kSessionsPath = "/v1/sessions";
inline constexpr const char* kPeersPath = "/v1/peers";
// Names the publisher at upgrade (CONTRACT.md); 1 to 128 visible ASCII characters.
inline constexpr const char* kPublisherHeader = "X-Ballast-Publisher";
inline constexpr size_t kMaxPublisherIdBytes = 128;

struct SessionServerOptions {
  std::string address;
  std::vector<std::string> tokens;  // accepted bearer tokens; required unless insecure
  bool insecure = false;            // accept publishers without a token (development only)
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_frame_bytes = 4096;
  // Open connections at most; more are accepted and closed at once. Above the 5,000
  // publishers of the soak test; many publishers need a memory limit above the chart's.
  size_t max_connections = 8192;
  // Open publisher connections per bearer token at most; the next upgrade gets 429. Above
  // the soak test's 5,000 publishers, below max_connections so one token holder cannot take
  // every place. Series caps are the registry's (RegistryOptions).
  size_t max_connections_per_token = 5'120;
  // Set: upgrades on kPeersPath that present one of `peer_tokens` (any, when insecure) are
  // handed to it, on the connection's strand. Unset: kPeersPath is not found.
  std::function<void(PeerUpgrade&&)> on_peer;
  std::vector<std::string> peer_tokens;
};

// The publisher endpoint: WebSocket `/v1/sessions` on the shared IoPool. Each connection
// feeds its frames into the SessionRegistry and drops its series when it ends; a 1 s timer
// re-publishes the registry's sums so they never go stale in the hub.
//
// Owned by the composition root; the pool and registry must outlive it. Handlers run on
// the pool's threads, one strand per connection. stop() (also run by the destructor)
// refuses new connections, closes open ones with 1001 (going away) and, when called off
// the pool's threads while the pool runs, waits a bounded time for them to finish.
class SessionServer {
 public:
  static Result<std::unique_ptr<SessionServer>> start(net::IoPool& pool, SessionServerOptions options,
                                                      SessionRegistry& registry, MetricsRegistry& metrics);
  ~SessionServer();
  SessionServer(const SessionServer&) = delete;
  SessionServer& operator=(const SessionServer&) = delete;

  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit SessionServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads bearer tokens, one per line; blank lines and surrounding whitespace are ignored.
// An unreadable file or one without a token is an error. Blocking: start-up only.
Result<std::vector<std::string>> load_tokens(const std::string& path);

}  // namespace ballast::sessions
