#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "core/result.h"
#include "externalscaler.grpc.pb.h"
#include "scaler/sessions_trigger.h"

namespace ballast::scaler {

// A KEDA-like client of an ExternalScaler: the calls KEDA makes, in KEDA's order and with
// KEDA's deadlines. `ballast probe`, the demo and the integration tests share it. Blocking:
// each call runs on the calling thread.

// KEDA's deadline for each unary call on the HPA path: the calls' default (`ballast probe
// --timeout` sets another, e.g. for a scaler under valgrind).
inline constexpr std::chrono::seconds kKedaCallDeadline{3};

// How to reach the scaler: plaintext (h2c) without a CA file; TLS, verified against
// `ca_file`, with one; mTLS when a client certificate and key are given as well (KEDA's
// `caCert`, `tlsClientCert`, `tlsClientKey`). `server_name` overrides the name the
// certificate is checked against (the host of `address` otherwise).
struct ScalerEndpoint {
  std::string address;  // host:port
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
};

// A channel to the scaler, or an error naming the file or option that is wrong. The
// connection itself is made lazily, by the first call.
Result<std::shared_ptr<grpc::Channel>> scaler_channel(const ScalerEndpoint& endpoint);

externalscaler::ScaledObjectRef scaled_object_ref(const std::string& namespace_name, const std::string& name,
                                                  const Metadata& metadata);

// What one KEDA poll of one trigger saw.
struct KedaPoll {
  grpc::Status spec_status, metrics_status, active_status;
  std::string metric_name;
  double target = 0;
  int64_t int_target = -1;
  double value = -1;
  int64_t int_value = -1;
  bool active = false;
};

// GetMetricSpec, then GetMetrics for the metric it named, then IsActive. A failed
// GetMetricSpec ends the poll, as it does in KEDA, and stands for all three statuses. An
// answer KEDA could not use (not exactly one metric spec or value) is INTERNAL. Each call
// has `deadline` (DEADLINE_EXCEEDED after it).
KedaPoll keda_poll(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                   std::chrono::milliseconds deadline = kKedaCallDeadline);
// The poll's first step alone: GetMetricSpec depends on metadata only, never on a backend,
// so it checks a trigger without starting a source. The other statuses stay unset (OK).
KedaPoll keda_metric_spec(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                          std::chrono::milliseconds deadline = kKedaCallDeadline);

// Holds a StreamIsActive stream open, as KEDA does for an external-push trigger, calling
// `on_message` with each result as it arrives, until the scaler ends the stream or
// `context` is cancelled (TryCancel from another thread); returns how the stream ended.
grpc::Status stream_is_active(externalscaler::ExternalScaler::Stub& stub, grpc::ClientContext& context,
                              const externalscaler::ScaledObjectRef& ref,
                              const std::function<void(bool active)>& on_message);

// "INVALID_ARGUMENT", "UNAVAILABLE", …: gRPC's own names for status codes.
std::string status_code_name(grpc::StatusCode code);

}  // namespace ballast::scaler
