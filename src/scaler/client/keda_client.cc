#include "scaler/client/keda_client.h"

#include "core/file.h"

namespace ballast::scaler {
namespace {

Result<std::string> read_pem(const std::string& path, const char* option) {
  auto text = read_regular_file(path, 1 << 20);
  if (!text) return Error{text.error().code, std::string(option) + ": " + text.error().message};
  return text;
}

void set_deadline(grpc::ClientContext& context, std::chrono::milliseconds deadline) {
  context.set_deadline(std::chrono::system_clock::now() + deadline);
}

}  // namespace

Result<std::shared_ptr<grpc::Channel>> scaler_channel(const ScalerEndpoint& endpoint) {
  if (endpoint.address.empty()) return invalid_argument("scaler: an address (host:port) is required");
  const bool client_cert = !endpoint.cert_file.empty() || !endpoint.key_file.empty();
  if (client_cert && (endpoint.cert_file.empty() || endpoint.key_file.empty())) {
    return invalid_argument("tls-cert-file and tls-key-file: give both or neither");
  }
  if (endpoint.ca_file.empty()) {
    if (client_cert || !endpoint.server_name.empty()) {
      return invalid_argument("tls-ca-file: required with a client certificate or a server name (TLS)");
    }
    return grpc::CreateChannel(endpoint.address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions options;
  auto ca = read_pem(endpoint.ca_file, "tls-ca-file");
  if (!ca) return ca.error();
  options.pem_root_certs = std::move(*ca);
  if (client_cert) {
    auto cert = read_pem(endpoint.cert_file, "tls-cert-file");
    if (!cert) return cert.error();
    auto key = read_pem(endpoint.key_file, "tls-key-file");
    if (!key) return key.error();
    options.pem_cert_chain = std::move(*cert);
    options.pem_private_key = std::move(*key);
  }
  grpc::ChannelArguments arguments;
  if (!endpoint.server_name.empty()) arguments.SetSslTargetNameOverride(endpoint.server_name);
  return grpc::CreateCustomChannel(endpoint.address, grpc::SslCredentials(options), arguments);
}

externalscaler::ScaledObjectRef scaled_object_ref(const std::string& namespace_name, const std::string& name,
                                                  const Metadata& metadata) {
  externalscaler::ScaledObjectRef ref;
  ref.set_namespace_(namespace_name);
  ref.set_name(name);
  for (const auto& [key, value] : metadata) (*ref.mutable_scalermetadata())[key] = value;
  return ref;
}

KedaPoll keda_metric_spec(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                          std::chrono::milliseconds deadline) {
  KedaPoll out;
  grpc::ClientContext spec_context;
  set_deadline(spec_context, deadline);
  externalscaler::GetMetricSpecResponse spec;
  out.spec_status = stub.GetMetricSpec(&spec_context, ref, &spec);
  if (out.spec_status.ok() && spec.metricspecs_size() != 1) {
    out.spec_status = grpc::Status(grpc::StatusCode::INTERNAL, "GetMetricSpec answered " +
                                                                   std::to_string(spec.metricspecs_size()) +
                                                                   " metric specs; KEDA expects one per trigger");
  }
  if (out.spec_status.ok()) {
    out.metric_name = spec.metricspecs(0).metricname();
    out.target = spec.metricspecs(0).targetsizefloat();
    out.int_target = spec.metricspecs(0).targetsize();
  }
  return out;
}

KedaPoll keda_poll(externalscaler::ExternalScaler::Stub& stub, const externalscaler::ScaledObjectRef& ref,
                   std::chrono::milliseconds deadline) {
  KedaPoll out = keda_metric_spec(stub, ref, deadline);
  if (!out.spec_status.ok()) {
    out.metrics_status = out.active_status = out.spec_status;
    return out;
  }

  grpc::ClientContext metrics_context;
  set_deadline(metrics_context, deadline);
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = ref;
  request.set_metricname(out.metric_name);
  externalscaler::GetMetricsResponse metrics;
  out.metrics_status = stub.GetMetrics(&metrics_context, request, &metrics);
  if (out.metrics_status.ok() && metrics.metricvalues_size() != 1) {
    out.metrics_status = grpc::Status(grpc::StatusCode::INTERNAL, "GetMetrics answered " +
                                                                      std::to_string(metrics.metricvalues_size()) +
                                                                      " metric values; KEDA expects one");
  }
  if (out.metrics_status.ok()) {
    out.value = metrics.metricvalues(0).metricvaluefloat();
    out.int_value = metrics.metricvalues(0).metricvalue();
  }
  grpc::ClientContext active_context;
  set_deadline(active_context, deadline);
  externalscaler::IsActiveResponse active;
  out.active_status = stub.IsActive(&active_context, ref, &active);
  out.active = active.result();
  return out;
}

grpc::Status stream_is_active(externalscaler::ExternalScaler::Stub& stub, grpc::ClientContext& context,
                              const externalscaler::ScaledObjectRef& ref,
                              const std::function<void(bool active)>& on_message) {
  auto reader = stub.StreamIsActive(&context, ref);
  externalscaler::IsActiveResponse response;
  while (reader->Read(&response)) on_message(response.result());
  return reader->Finish();
}

std::string status_code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

}  // namespace ballast::scaler
