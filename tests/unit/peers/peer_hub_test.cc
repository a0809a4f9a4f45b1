#include "peers/peer_hub.h"

#include <catch2/catch.hpp>

#include "core/metrics.h"
#include "fakes/fake_clock.h"
#include "net/io_pool.h"
#include "scaler/metric_hub.h"
#include "sources/sessions/session_registry.h"

namespace ballast::peers {

// Found by valgrind on `ballast serve --peers`: every dialer held the hub's shared state and
// the state held the dialers, so a stopped hub leaked both. The leak shows under the
// sanitizer build (LeakSanitizer, `make test-unit-asan`) and under bench/memcheck.sh.
TEST_CASE("a stopped peer hub frees its dialers and their shared state", "[peers][lifetime]") {
  net::IoPool pool{1};
  pool.start();
  testing::FakeClock clock;
  scaler::MetricHub hub{clock};
  MetricsRegistry metrics;
  sessions::SessionRegistry registry{hub, metrics};
  PeerOptions options;
  options.replica_id = "replica-a";
  // Nothing listens on port 1: each dialer fails and waits to retry until stopped.
  options.static_peers = {"127.0.0.1:1", "127.0.0.1:2"};
  {
    PeerHub peers{pool, options, registry, metrics};
    peers.start(9091);
    CHECK(peers.peers().size() == 2);
    peers.stop();
    CHECK(peers.peers().empty());
  }
  pool.stop();
}

}  // namespace ballast::peers
