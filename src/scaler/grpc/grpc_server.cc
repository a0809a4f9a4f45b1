#include "scaler/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include "core/file.h"
#include "core/log.h"
#include "scaler/grpc/scaler_service.h"

namespace ballast::scaler {
namespace {

Result<std::string> read_file(const std::string& path, const char* flag) {
  auto text = read_regular_file(path);
  if (!text) return Error{text.error().code, std::string(flag) + ": " + text.error().message};
  return text;
}

Result<std::shared_ptr<grpc::ServerCredentials>> credentials(const ScalerConfig& config) {
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  auto cert = read_file(config.tls_cert_file, "grpc-tls-cert-file");
  if (!cert) return cert.error();
  auto key = read_file(config.tls_key_file, "grpc-tls-key-file");
  if (!key) return key.error();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.client_ca_file.empty()) {
    auto ca = read_file(config.client_ca_file, "grpc-client-ca-file");
    if (!ca) return ca.error();
    options.pem_root_certs = *ca;
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

struct GrpcServer::Impl {
  std::unique_ptr<ScalerService> service;
  std::unique_ptr<grpc::Server> server;
};

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl, uint16_t port) : impl_(std::move(impl)), port_(port) {}

GrpcServer::~GrpcServer() { shutdown(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<GrpcServer>> GrpcServer::start(const ScalerConfig& config, MetricHub& hub, Sources sources,
                                                      MetricsRegistry& metrics) {
  auto creds = credentials(config);
  if (!creds) return creds.error();
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<ScalerService>(hub, std::move(sources), metrics);

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(config.grpc_address, *creds, &selected_port);
  builder.RegisterService(impl->service.get());
  // KEDA keeps one idle HTTP/2 connection per scaler address and sends no pings;
  // tolerate its pings too if a user turns them on.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl->server = builder.BuildAndStart();
  if (!impl->server || selected_port == 0) {
    return io_error("cannot listen on grpc-address " + config.grpc_address);
  }
  Logger("scaler").info("ExternalScaler listening", {{"address", config.grpc_address},
                                                     {"port", selected_port},
                                                     {"tls", !config.tls_cert_file.empty()},
                                                     {"mtls", !config.client_ca_file.empty()}});
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl), static_cast<uint16_t>(selected_port)));
}

void GrpcServer::shutdown(std::chrono::milliseconds grace) {
  if (!impl_ || !impl_->server) return;
  impl_->service->finish_streams();
  impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace ballast::scaler
