#pragma once

// KEDA's call pattern against an ExternalScaler, for the integration tests.

#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <thread>

#include "externalscaler.grpc.pb.h"

namespace ballast::testing {

struct KedaPoll {
  grpc::Status spec_status, metrics_status, active_status;
  std::string metric_name;
  double target = 0;
  int64_t int_target = -1;
  double value = -1;
  int64_t int_value = -1;
  bool active = false;
};

// One KEDA poll of one trigger: GetMetricSpec, then GetMetrics for its metric, then
// IsActive, each with KEDA's 3 s HPA-path deadline. A failed GetMetricSpec ends the poll,
// as it does in KEDA, and stands for all three statuses.
inline KedaPoll keda_poll(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref) {
  using namespace std::chrono_literals;
  KedaPoll out;
  grpc::ClientContext spec_context;
  spec_context.set_deadline(std::chrono::system_clock::now() + 3s);
  externalscaler::GetMetricSpecResponse spec;
  out.spec_status = stub.GetMetricSpec(&spec_context, ref, &spec);
  if (!out.spec_status.ok()) {
    out.metrics_status = out.active_status = out.spec_status;
    return out;
  }
  REQUIRE(spec.metricspecs_size() == 1);
  out.metric_name = spec.metricspecs(0).metricname();
  out.target = spec.metricspecs(0).targetsizefloat();
  out.int_target = spec.metricspecs(0).targetsize();

  grpc::ClientContext metrics_context;
  metrics_context.set_deadline(std::chrono::system_clock::now() + 3s);
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = ref;
  request.set_metricname(out.metric_name);
  externalscaler::GetMetricsResponse metrics;
  out.metrics_status = stub.GetMetrics(&metrics_context, request, &metrics);
  if (out.metrics_status.ok()) {
    REQUIRE(metrics.metricvalues_size() == 1);
    out.value = metrics.metricvalues(0).metricvaluefloat();
    out.int_value = metrics.metricvalues(0).metricvalue();
  }
  grpc::ClientContext active_context;
  active_context.set_deadline(std::chrono::system_clock::now() + 3s);
  externalscaler::IsActiveResponse active;
  out.active_status = stub.IsActive(&active_context, ref, &active);
  out.active = active.result();
  return out;
}

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
