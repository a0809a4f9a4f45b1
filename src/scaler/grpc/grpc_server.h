#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>

#include "core/config.h"
#include "core/metrics.h"
#include "core/result.h"
#include "scaler/metric_hub.h"
#include "scaler/metric_source.h"

namespace ballast::scaler {

class ScalerService;

using Sources = std::map<SourceKind, MetricSource*>;

// KEDA's ExternalScaler over gRPC (h2c, TLS or mTLS). Owned by the composition root:
// start() after the hub and sources exist, shutdown() before they are destroyed.
// gRPC's own threads run the handlers; they only read the hub.
class GrpcServer {
 public:
  static Result<std::unique_ptr<GrpcServer>> start(const ScalerConfig& config, MetricHub& hub, Sources sources,
                                                   MetricsRegistry& metrics);
  ~GrpcServer();

  uint16_t port() const { return port_; }

  // Ends every open stream with status OK (KEDA resets its reconnect backoff only on a
  // clean end), then stops, giving in-flight unary calls up to `grace`.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl, uint16_t port);
  std::unique_ptr<Impl> impl_;
  uint16_t port_;
};

}  // namespace ballast::scaler
