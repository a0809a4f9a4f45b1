// scaler_probe: one KEDA poll of one trigger against a running ballast, for the e2e suite
// (pytest calls it; the machine's Python has no gRPC module). It makes KEDA's calls in
// KEDA's order, GetMetricSpec, GetMetrics for the metric it named, IsActive, each with
// KEDA's 3 s deadline, and prints one JSON object with each call's status and answer:
//
//   scaler_probe 127.0.0.1:9090 NAMESPACE NAME source=kafka bootstrapServers=... ...
//   {"spec":{"code":"OK","message":"","metricName":"...","target":10},
//    "metrics":{"code":"UNAVAILABLE","message":"..."},"active":{"code":"OK","result":true}}
//
// A failed GetMetricSpec ends the poll, as in KEDA. Exit status 0 whenever the calls were
// made (their statuses are in the output), 2 on bad usage.
//
// With --stream first, it holds a StreamIsActive stream open instead, as KEDA does for an
// external-push trigger, and prints one line per message with the wall-clock time it
// arrived (seconds since the epoch, for the test to compare with when it produced):
//
//   scaler_probe --stream 127.0.0.1:9090 NAMESPACE NAME source=kafka ...
//   {"result":false,"at":1765060000.123456}
//   {"result":true,"at":1765060003.456789}
//   {"end":{"code":"CANCELLED","message":"..."}}
//
// It runs until the stream ends or the process is signalled.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "externalscaler.grpc.pb.h"

namespace {

constexpr std::chrono::seconds kDeadline{3};

std::string code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

nlohmann::json status_json(const grpc::Status& status) {
  return {{"code", code_name(status.error_code())}, {"message", status.error_message()}};
}

void set_deadline(grpc::ClientContext& context) { context.set_deadline(std::chrono::system_clock::now() + kDeadline); }

double epoch_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int stream_is_active(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref) {
  grpc::ClientContext context;
  auto reader = stub.StreamIsActive(&context, ref);
  externalscaler::IsActiveResponse response;
  while (reader->Read(&response)) {
    const double at = epoch_seconds();
    std::cout << nlohmann::json{{"result", response.result()}, {"at", at}}.dump() << std::endl;
  }
  std::cout << nlohmann::json{{"end", status_json(reader->Finish())}}.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool stream = argc > 1 && std::string(argv[1]) == "--stream";
  if (stream) {
    --argc;
    ++argv;
  }
  if (argc < 4) {
    std::cerr << "usage: scaler_probe [--stream] ADDRESS NAMESPACE NAME [key=value ...]\n";
    return 2;
  }
  externalscaler::ScaledObjectRef ref;
  ref.set_namespace_(argv[2]);
  ref.set_name(argv[3]);
  for (int i = 4; i < argc; ++i) {
    const std::string pair = argv[i];
    const auto equals = pair.find('=');
    if (equals == std::string::npos) {
      std::cerr << "scaler_probe: metadata must be key=value, got \"" << pair << "\"\n";
      return 2;
    }
    (*ref.mutable_scalermetadata())[pair.substr(0, equals)] = pair.substr(equals + 1);
  }
  auto stub = externalscaler::ExternalScaler::NewStub(grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  if (stream) return stream_is_active(*stub, ref);

  nlohmann::json out;
  grpc::ClientContext spec_context;
  set_deadline(spec_context);
  externalscaler::GetMetricSpecResponse spec;
  const grpc::Status spec_status = stub->GetMetricSpec(&spec_context, ref, &spec);
  out["spec"] = status_json(spec_status);
  if (!spec_status.ok() || spec.metricspecs_size() == 0) {
    std::cout << out.dump() << "\n";
    return 0;
  }
  const auto& metric_spec = spec.metricspecs(0);
  out["spec"]["metricName"] = metric_spec.metricname();
  out["spec"]["target"] = metric_spec.targetsizefloat();

  grpc::ClientContext metrics_context;
  set_deadline(metrics_context);
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = ref;
  request.set_metricname(metric_spec.metricname());
  externalscaler::GetMetricsResponse metrics;
  const grpc::Status metrics_status = stub->GetMetrics(&metrics_context, request, &metrics);
  out["metrics"] = status_json(metrics_status);
  if (metrics_status.ok() && metrics.metricvalues_size() > 0) {
    out["metrics"]["value"] = metrics.metricvalues(0).metricvaluefloat();
  }

  grpc::ClientContext active_context;
  set_deadline(active_context);
  externalscaler::IsActiveResponse active;
  const grpc::Status active_status = stub->IsActive(&active_context, ref, &active);
  out["active"] = status_json(active_status);
  if (active_status.ok()) out["active"]["result"] = active.result();
  std::cout << out.dump() << "\n";
  return 0;
}
