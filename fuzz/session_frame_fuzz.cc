// One publisher text frame (the sessions port, after the WebSocket upgrade), parsed and
// applied to a registry as the server does, so the series limits and sums see it too.
#include <cstddef>
#include <cstdint>

#include "core/clock.h"
#include "core/metrics.h"
#include "fuzz_input.h"
#include "scaler/metric_hub.h"
#include "sources/sessions/frame.h"
#include "sources/sessions/session_registry.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ballast;
  static SteadyClock clock;
  static scaler::MetricHub hub(clock);
  static MetricsRegistry metrics;
  static sessions::SessionRegistry registry(hub, metrics);
  auto frame = sessions::parse_frame(fuzz::as_text(data, size));
  if (!frame) return 0;
  const auto connection = registry.open_connection("fuzz", 0);
  (void)registry.apply(connection, *frame);
  (void)registry.apply(connection, *frame);  // the same series again: an update
  registry.close_connection(connection);
  return 0;
}
