#pragma once

// KEDA's call pattern against an ExternalScaler, for the integration tests: the shared
// client (src/scaler/client) plus polling until a condition holds.

#include <chrono>
#include <thread>

#include "scaler/client/keda_client.h"

namespace ballast::testing {

using scaler::keda_poll;
using scaler::KedaPoll;

// Polls until `done` holds or `limit` passes; returns the last poll.
template <typename Predicate>
KedaPoll poll_until(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                    Predicate done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  KedaPoll polled = keda_poll(stub, ref);
  while (!done(polled) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    polled = keda_poll(stub, ref);
  }
  return polled;
}

}  // namespace ballast::testing
