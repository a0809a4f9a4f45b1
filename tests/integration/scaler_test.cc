// The ExternalScaler over real loopback gRPC, fed by real WebSocket publishers, driven
// the way KEDA drives it.
#include <catch2/catch.hpp>
#include <grpcpp/grpcpp.h>

#include <thread>

#include "app/application.h"
#include "externalscaler.grpc.pb.h"
#include "fakes/keda_client.h"
#include "fakes/test_certs.h"
#include "demo/support/session_publisher.h"

using namespace ballast;
using namespace std::chrono_literals;
using externalscaler::ExternalScaler;
using Polled = testing::KedaPoll;
using testing::keda_poll;
using testing::poll_until;

// Publishes cross a real WebSocket and the hub before a poll sees them.
constexpr auto kPublishWait = 5s;

namespace {

constexpr const char* kToken = "test-token";

Config loopback_config() {
  Config config;
  config.scaler.grpc_address = "127.0.0.1:0";
  config.sessions.address = "127.0.0.1:0";
  config.admin.address = "127.0.0.1:0";
  return config;
}

externalscaler::ScaledObjectRef interviews_ref(const std::string& activation = "0") {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("stt-worker");
  ref.set_namespace_("ai-services");
  auto& metadata = *ref.mutable_scalermetadata();
  metadata["scalerAddress"] = "ballast.ballast-system.svc:9090";
  metadata["source"] = "sessions";
  metadata["counter"] = "active_interviews";
  metadata["selector"] = "service=interview";
  metadata["threshold"] = "2";
  metadata["activationThreshold"] = activation;
  return ref;
}

std::string frame(int value) {
  return R"({"counter":"active_interviews","labels":{"service":"interview","pod":"gw-1"},"value":)" +
         std::to_string(value) + "}";
}

struct Scaler {
  Scaler() : app(loopback_config(), {kToken}) {
    auto started = app.start();
    INFO((started.ok() ? "" : started.error().message));
    REQUIRE(started.ok());
    channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(app.grpc_port()), grpc::InsecureChannelCredentials());
    stub = ExternalScaler::NewStub(channel);
  }
  std::unique_ptr<sessions::SessionPublisher> publisher() {
    auto connected = sessions::SessionPublisher::connect("127.0.0.1", app.sessions_port(), kToken);
    REQUIRE(connected.ok());
    return std::move(*connected);
  }
  app::Application app;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ExternalScaler::Stub> stub;
};

}  // namespace

TEST_CASE("KEDA's poll sees session counters as they are published", "[scaler][integration]") {
  Scaler scaler;
  auto first = keda_poll(*scaler.stub, interviews_ref());
  REQUIRE(first.spec_status.ok());
  CHECK(first.metric_name == "sessions-active-interviews-interview");
  CHECK(first.target == 2);
  CHECK(first.int_target == 2);
  REQUIRE(first.metrics_status.ok());
  CHECK(first.value == 0);  // no publisher yet: a true zero, the source is up
  CHECK_FALSE(first.active);

  auto publisher = scaler.publisher();
  REQUIRE(publisher->send(frame(5)).ok());
  auto polled = poll_until(*scaler.stub, interviews_ref(), [](const Polled& p) { return p.value == 5; }, kPublishWait);
  CHECK(polled.value == 5);
  CHECK(polled.int_value == 5);
  CHECK(polled.active);

  publisher->close();
  polled = poll_until(*scaler.stub, interviews_ref(), [](const Polled& p) { return p.value == 0; }, kPublishWait);
  CHECK(polled.value == 0);
  CHECK_FALSE(polled.active);
}

TEST_CASE("triggers with different activation thresholds share one source", "[scaler][integration]") {
  Scaler scaler;
  auto publisher = scaler.publisher();
  REQUIRE(publisher->send(frame(3)).ok());
  auto low = poll_until(*scaler.stub, interviews_ref("0"), [](const Polled& p) { return p.value == 3; }, kPublishWait);
  auto high = keda_poll(*scaler.stub, interviews_ref("10"));
  CHECK(low.active);
  CHECK(high.value == 3);
  CHECK_FALSE(high.active);
}

TEST_CASE("broken metadata is INVALID_ARGUMENT naming the key on every RPC", "[scaler][integration]") {
  Scaler scaler;
  auto ref = interviews_ref();
  (*ref.mutable_scalermetadata())["threshold"] = "lots";
  auto polled = keda_poll(*scaler.stub, ref);
  CHECK(polled.spec_status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(polled.spec_status.error_message().find("threshold") != std::string::npos);

  grpc::ClientContext context;
  externalscaler::IsActiveResponse response;
  CHECK(scaler.stub->IsActive(&context, ref, &response).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext stream_context;
  auto reader = scaler.stub->StreamIsActive(&stream_context, ref);
  CHECK_FALSE(reader->Read(&response));
  const auto status = reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("threshold") != std::string::npos);
}

TEST_CASE("a source that is not running answers UNAVAILABLE, never zero", "[scaler][integration]") {
  auto config = loopback_config();
  config.components = {"scaler"};
  app::Application app(config);
  REQUIRE(app.start().ok());
  auto stub = ExternalScaler::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(app.grpc_port()), grpc::InsecureChannelCredentials()));
  auto polled = keda_poll(*stub, interviews_ref());
  CHECK(polled.spec_status.ok());  // specs come from metadata alone, so KEDA's fallback still works
  CHECK(polled.metrics_status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(polled.active_status.error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("StreamIsActive sends the current state at once, then only edges", "[scaler][integration]") {
  Scaler scaler;
  grpc::ClientContext context;
  auto reader = scaler.stub->StreamIsActive(&context, interviews_ref("1"));
  externalscaler::IsActiveResponse response;
  REQUIRE(reader->Read(&response));
  CHECK_FALSE(response.result());

  auto publisher = scaler.publisher();
  REQUIRE(publisher->send(frame(1)).ok());  // not above activation 1: no event
  REQUIRE(publisher->send(frame(2)).ok());  // edge to active
  REQUIRE(reader->Read(&response));
  CHECK(response.result());
  REQUIRE(publisher->send(frame(3)).ok());  // still active: no event
  REQUIRE(publisher->send(frame(0)).ok());  // edge to inactive
  REQUIRE(reader->Read(&response));
  CHECK_FALSE(response.result());

  scaler.app.stop();
  CHECK_FALSE(reader->Read(&response));
  CHECK(reader->Finish().ok());  // shutdown ends streams with OK, so KEDA resets its backoff
}

TEST_CASE("StreamMetricSpec sends the spec at once and ends with OK on shutdown", "[scaler][integration]") {
  Scaler scaler;
  grpc::ClientContext context;
  auto reader = scaler.stub->StreamMetricSpec(&context, interviews_ref());
  externalscaler::GetMetricSpecResponse response;
  REQUIRE(reader->Read(&response));
  REQUIRE(response.metricspecs_size() == 1);
  CHECK(response.metricspecs(0).metricname() == "sessions-active-interviews-interview");
  CHECK(response.metricspecs(0).targetsizefloat() == 2);
  scaler.app.stop();
  CHECK_FALSE(reader->Read(&response));
  CHECK(reader->Finish().ok());
}

TEST_CASE("a client that cancels its stream frees it", "[scaler][integration]") {
  Scaler scaler;
  {
    grpc::ClientContext context;
    auto reader = scaler.stub->StreamIsActive(&context, interviews_ref());
    externalscaler::IsActiveResponse response;
    REQUIRE(reader->Read(&response));
    context.TryCancel();
    CHECK(reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
  auto publisher = scaler.publisher();
  REQUIRE(publisher->send(frame(4)).ok());  // publishing after the cancel must not touch the dead stream
  auto polled = poll_until(*scaler.stub, interviews_ref(), [](const Polled& p) { return p.value == 4; }, kPublishWait);
  CHECK(polled.value == 4);
}

TEST_CASE("the scaler serves TLS and requires client certificates with a client CA", "[scaler][integration]") {
  testing::TestCerts certs;
  REQUIRE(certs.ok());
  auto config = loopback_config();
  config.components = {"scaler"};
  config.scaler.tls_cert_file = certs.path("server.crt");
  config.scaler.tls_key_file = certs.path("server.key");
  config.scaler.client_ca_file = certs.path("ca.crt");
  app::Application app(config);
  REQUIRE(app.start().ok());
  const std::string target = "127.0.0.1:" + std::to_string(app.grpc_port());

  grpc::SslCredentialsOptions with_client;
  with_client.pem_root_certs = certs.read("ca.crt");
  with_client.pem_cert_chain = certs.read("client.crt");
  with_client.pem_private_key = certs.read("client.key");
  auto stub = ExternalScaler::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(with_client)));
  CHECK(keda_poll(*stub, interviews_ref()).spec_status.ok());

  grpc::SslCredentialsOptions without_client;
  without_client.pem_root_certs = certs.read("ca.crt");
  auto refused = ExternalScaler::NewStub(grpc::CreateChannel(target, grpc::SslCredentials(without_client)));
  CHECK(keda_poll(*refused, interviews_ref()).spec_status.error_code() == grpc::StatusCode::UNAVAILABLE);

  auto plaintext = ExternalScaler::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  CHECK_FALSE(keda_poll(*plaintext, interviews_ref()).spec_status.ok());
}
