#pragma once

// Internal to the scaler component: brings in gRPC and the generated KEDA types.

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <string_view>
#include <set>

#include "externalscaler.grpc.pb.h"

#include "core/metrics.h"
#include "scaler/grpc/grpc_server.h"
#include "scaler/metric_hub.h"
#include "scaler/trigger_spec.h"

namespace ballast::scaler {

// A server stream the service can end on shutdown.
class OpenStream {
 public:
  virtual ~OpenStream() = default;
  virtual void finish_ok() = 0;
};

// The five ExternalScaler RPCs. Unary calls answer from the MetricHub and finish at once
// (but a GetMetrics during its key's first poll, which is answered by that poll);
// the two streams are self-deleting reactors registered here so shutdown can end them.
// Guard: `streams_mutex_` protects `streams_` and `shutting_down_`.
class ScalerService final : public externalscaler::ExternalScaler::CallbackService {
 public:
  ScalerService(MetricHub& hub, Sources sources, MetricsRegistry& metrics);

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request,
                                     externalscaler::IsActiveResponse* response) override;
  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* context,
                                          const externalscaler::ScaledObjectRef* request,
                                          externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const externalscaler::GetMetricsRequest* request,
                                       externalscaler::GetMetricsResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request) override;
  grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse>* StreamMetricSpec(
      grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request) override;

  void finish_streams();

  // Parses the metadata and makes sure a source feeds its hub entry.
  Result<TriggerSpec> resolve(const externalscaler::ScaledObjectRef& ref);
  // Makes sure a source feeds the spec's hub entry; an error when that source is not running.
  Status watch(const TriggerSpec& spec);
  Result<Sample> current(const TriggerSpec& spec);
  // GetMetrics' answer from the hub: the value, or the status to finish with.
  grpc::Status answer_metrics(const TriggerSpec& spec, const std::string& requested_name,
                              externalscaler::GetMetricsResponse* response);
  MetricHub& hub() { return hub_; }

  // false once shutting down: the stream must finish at once.
  bool register_stream(OpenStream* stream);
  void unregister_stream(OpenStream* stream);
  void record(const char* method, grpc::StatusCode code, std::chrono::steady_clock::time_point started);

 private:
  Histogram& rpc_histogram(const char* method, grpc::StatusCode code);

  MetricHub& hub_;
  Sources sources_;
  MetricsRegistry& metrics_;
  Gauge& open_streams_;
  // One latency histogram per (method, status code), resolved once so the hot path
  // does not build label strings or take the registry lock.
  static constexpr size_t kStatusCodes = 17;
  std::map<std::string_view, std::array<std::atomic<Histogram*>, kStatusCodes>> rpc_histograms_;
  std::mutex streams_mutex_;
  std::set<OpenStream*> streams_;
  bool shutting_down_ = false;
};

grpc::Status to_grpc_status(const Error& error);

}  // namespace ballast::scaler
