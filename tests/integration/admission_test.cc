#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "admission/admission_server.h"
#include "core/metrics.h"
#include "fakes/test_certs.h"
#include "net/io_pool.h"
#include "policy/tier_policy.h"

namespace ballast::admission {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using json = nlohmann::json;

constexpr auto kWait = 5s;
// The server re-reads its certificate every 2 s; a rotation shows within a few polls.
constexpr auto kRotationWait = 15s;

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

json deployment() {
  return json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"},
                 "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
             "template": {"metadata": {"labels": {"app.kubernetes.io/name": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "resources": {}}]}}}
  })json");
}

std::string review_body(const json& object, const std::string& uid = "3f1e0b9c-1d2e-4f5a-8b7c-000000000001") {
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", uid},
                {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
                {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
                {"namespace", "shop"},
                {"operation", "CREATE"},
                {"userInfo", {{"username", "admin"}}},
                {"object", object},
                {"oldObject", nullptr},
                {"dryRun", false}}}}
      .dump();
}

json decode_patch(const json& response) {
  const std::string encoded = response["patch"];
  std::string decoded(beast::detail::base64::decoded_size(encoded.size()), '\0');
  decoded.resize(beast::detail::base64::decode(decoded.data(), encoded.data(), encoded.size()).first);
  return json::parse(decoded);
}

std::string serial_of(X509* certificate) {
  BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
  char* hex = BN_bn2hex(number);
  std::string serial = hex;
  OPENSSL_free(hex);
  BN_free(number);
  return serial;
}

std::string file_serial(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  X509* certificate = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  std::string serial = serial_of(certificate);
  X509_free(certificate);
  return serial;
}

void copy_file(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

// A blocking HTTPS/1.1 client on its own io_context. Every operation is bounded by the
// stream's timeout, so a server that hangs fails the test instead of stalling it.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::vector<std::string>& ca_files, bool legacy_tls_only = false) : port_(port) {
    for (const auto& ca : ca_files) tls_.load_verify_file(ca);
    tls_.set_verify_mode(ssl::verify_peer);
    if (legacy_tls_only) {
      SSL_CTX_set_security_level(tls_.native_handle(), 0);
      SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_VERSION);
      SSL_CTX_set_max_proto_version(tls_.native_handle(), TLS1_1_VERSION);
    }
    stream_.emplace(context_, tls_);
    stream_->set_verify_callback(ssl::host_name_verification("localhost"));
  }

  beast::error_code connect() {
    auto& tcp = beast::get_lowest_layer(*stream_);
    tcp.expires_after(kWait);
    beast::error_code result;
    tcp.async_connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_),
                      [&](beast::error_code ec) {
                        if (ec) {
                          result = ec;
                          return;
                        }
                        tcp.expires_after(kWait);
                        stream_->async_handshake(ssl::stream_base::client, [&](beast::error_code hs) { result = hs; });
                      });
    run();
    return result;
  }

  std::optional<http::response<http::string_body>> post(const std::string& target, const std::string& body) {
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::host, "localhost");
    request.set(http::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    return exchange(request);
  }

  std::optional<http::response<http::string_body>> exchange(http::request<http::string_body>& request) {
    beast::error_code result;
    http::response<http::string_body> response;
    beast::get_lowest_layer(*stream_).expires_after(kWait);
    http::async_write(*stream_, request, [&](beast::error_code ec, size_t) {
      if (ec) {
        result = ec;
        return;
      }
      http::async_read(*stream_, buffer_, response, [&](beast::error_code read, size_t) { result = read; });
    });
    run();
    if (result) return std::nullopt;
    return response;
  }

  // Sends raw bytes (a header promising more than is sent), then reads one response.
  std::optional<http::response<http::string_body>> send_raw(const std::string& bytes) {
    beast::error_code result;
    http::response<http::string_body> response;
    beast::get_lowest_layer(*stream_).expires_after(kWait);
    asio::async_write(*stream_, asio::buffer(bytes), [&](beast::error_code ec, size_t) {
      if (ec) {
        result = ec;
        return;
      }
      http::async_read(*stream_, buffer_, response, [&](beast::error_code read, size_t) { result = read; });
    });
    run();
    if (result) return std::nullopt;
    return response;
  }

  std::string peer_serial() {
    X509* peer = SSL_get1_peer_certificate(stream_->native_handle());
    if (peer == nullptr) return "";
    std::string serial = serial_of(peer);
    X509_free(peer);
    return serial;
  }

 private:
  void run() {
    context_.restart();
    context_.run();
  }

  uint16_t port_;
  asio::io_context context_;
  ssl::context tls_{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

// A webhook on a free loopback port with the test CA's server certificate, copied to
// files of its own so rotation tests can overwrite them.
struct Harness {
  Harness() {
    REQUIRE(certs.ok());
    cert_file = certs.path("serving.crt");
    key_file = certs.path("serving.key");
    copy_file(certs.path("server.crt"), cert_file);
    copy_file(certs.path("server.key"), key_file);
    pool.start();
    WebhookConfig config;
    config.address = "127.0.0.1:0";
    config.tls_cert_file = cert_file;
    config.tls_key_file = key_file;
    auto started = AdmissionServer::start(pool, config, std::make_shared<const policy::TierPolicy>(policy::default_policy()),
                                          metrics);
    REQUIRE(started.ok());
    server = std::move(started).value();
  }

  ~Harness() {
    server->stop();
    pool.stop();
  }

  std::unique_ptr<TlsClient> connect(std::vector<std::string> extra_cas = {}) {
    extra_cas.push_back(certs.path("ca.crt"));
    auto client = std::make_unique<TlsClient>(server->port(), extra_cas);
    const auto ec = client->connect();
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    return client;
  }

  double requests(const std::string& route, const std::string& result) {
    return metrics.counter("ballast_admission_requests_total", "", {{"route", route}, {"result", result}}).value();
  }
  double reloads(const std::string& result) {
    return metrics.counter("ballast_admission_certificate_reloads_total", "", {{"result", result}}).value();
  }

  testing::TestCerts certs;
  std::string cert_file;
  std::string key_file;
  MetricsRegistry metrics;
  net::IoPool pool{2};
  std::unique_ptr<AdmissionServer> server;
};

}  // namespace

TEST_CASE("a deployment review over TLS returns a patch that applies, and a second review none", "[admission]") {
  Harness harness;
  auto client = harness.connect();
  const json object = deployment();
  auto response = client->post("/mutate?timeout=10s", review_body(object));
  REQUIRE(response);
  CHECK(response->result() == http::status::ok);
  CHECK(response->keep_alive());
  const json answer = json::parse(response->body());
  CHECK(answer["apiVersion"] == "admission.k8s.io/v1");
  CHECK(answer["response"]["uid"] == "3f1e0b9c-1d2e-4f5a-8b7c-000000000001");
  CHECK(answer["response"]["allowed"] == true);
  REQUIRE(answer["response"]["patchType"] == "JSONPatch");
  const json patched = object.patch(decode_patch(answer["response"]));
  CHECK(patched["spec"]["template"]["spec"]["priorityClassName"] == "platform-normal");
  CHECK(patched["metadata"]["annotations"]["ballast.dev/applied-tier"] == "standard");

  // Same keep-alive connection: the patched object needs nothing more.
  auto second = client->post("/mutate", review_body(patched, "3f1e0b9c-1d2e-4f5a-8b7c-000000000002"));
  REQUIRE(second);
  const json second_answer = json::parse(second->body());
  CHECK(second_answer["response"]["uid"] == "3f1e0b9c-1d2e-4f5a-8b7c-000000000002");
  CHECK_FALSE(second_answer["response"].contains("patch"));
  CHECK(harness.requests("mutate", "patched") == 1);
  CHECK(harness.requests("mutate", "allowed") == 1);
}

TEST_CASE("a malformed review gets 400 with the reason", "[admission]") {
  Harness harness;
  auto client = harness.connect();
  auto response = client->post("/validate", R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"})");
  REQUIRE(response);
  CHECK(response->result() == http::status::bad_request);
  CHECK_THAT(response->body(), Catch::Contains("request is missing"));
  CHECK(harness.requests("validate", "bad_request") == 1);
  // The connection stays usable.
  auto health = client->post("/healthz", "");
  REQUIRE(health);
  CHECK(health->result() == http::status::ok);
}

TEST_CASE("a body over the limit gets 413 without being read", "[admission]") {
  Harness harness;
  auto client = harness.connect();
  const size_t promised = kAdmissionBodyLimit + 1;
  const std::string head = "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(promised) + "\r\n\r\n";
  auto response = client->send_raw(head + std::string(64 * 1024, ' '));
  REQUIRE(response);
  CHECK(response->result() == http::status::payload_too_large);
  CHECK_FALSE(response->keep_alive());
}

TEST_CASE("TLS below 1.2 is refused", "[admission]") {
  Harness harness;
  TlsClient legacy(harness.server->port(), {harness.certs.path("ca.crt")}, /*legacy_tls_only=*/true);
  CHECK(legacy.connect());
}

TEST_CASE("concurrent keep-alive clients are all answered", "[admission]") {
  Harness harness;
  constexpr int kClients = 8;
  constexpr int kRequests = 25;
  std::atomic<int> patched{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      TlsClient client(harness.server->port(), {harness.certs.path("ca.crt")});
      if (client.connect()) return;
      for (int r = 0; r < kRequests; ++r) {
        auto response = client.post("/mutate", review_body(deployment(), "uid-" + std::to_string(c) + "-" + std::to_string(r)));
        if (!response || response->result() != http::status::ok) return;
        const json answer = json::parse(response->body());
        if (answer["response"]["uid"] == "uid-" + std::to_string(c) + "-" + std::to_string(r) &&
            answer["response"].contains("patch")) {
          ++patched;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(patched == kClients * kRequests);
  CHECK(harness.requests("mutate", "patched") == kClients * kRequests);
}

TEST_CASE("a rotated certificate serves new connections; a bad one keeps the last good one", "[admission]") {
  Harness harness;
  testing::TestCerts next;
  REQUIRE(next.ok());
  const std::string first_serial = file_serial(harness.cert_file);
  const std::string next_serial = file_serial(next.path("server.crt"));
  REQUIRE(first_serial != next_serial);

  auto before = harness.connect({next.path("ca.crt")});
  CHECK(before->peer_serial() == first_serial);

  copy_file(next.path("server.crt"), harness.cert_file);
  copy_file(next.path("server.key"), harness.key_file);
  CHECK(eventually([&] { return harness.connect({next.path("ca.crt")})->peer_serial() == next_serial; },
                   kRotationWait));
  // The connection made before the rotation keeps working on its certificate.
  auto still = before->post("/mutate", review_body(deployment()));
  REQUIRE(still);
  CHECK(still->result() == http::status::ok);
  CHECK(before->peer_serial() == first_serial);

  const double rejected = harness.reloads("rejected");
  {
    std::ofstream garbage(harness.cert_file, std::ios::trunc);
    garbage << "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n";
  }
  CHECK(eventually([&] { return harness.reloads("rejected") > rejected; }, kRotationWait));
  auto after = harness.connect({next.path("ca.crt")});
  CHECK(after->peer_serial() == next_serial);
  auto answered = after->post("/mutate", review_body(deployment()));
  REQUIRE(answered);
  CHECK(answered->result() == http::status::ok);
}

TEST_CASE("the webhook refuses to start without a certificate", "[admission]") {
  MetricsRegistry metrics;
  net::IoPool pool{1};
  WebhookConfig config;
  config.address = "127.0.0.1:0";
  auto started = AdmissionServer::start(pool, config, std::make_shared<const policy::TierPolicy>(policy::default_policy()),
                                        metrics);
  REQUIRE_FALSE(started.ok());
  CHECK(started.error().code == ErrorCode::kInvalidArgument);

  testing::TestCerts certs;
  REQUIRE(certs.ok());
  config.tls_cert_file = certs.path("server.crt");
  config.tls_key_file = certs.path("client.key");  // a key of another certificate
  auto mismatched = AdmissionServer::start(pool, config, std::make_shared<const policy::TierPolicy>(policy::default_policy()),
                                           metrics);
  REQUIRE_FALSE(mismatched.ok());
}

}  // namespace ballast::admission
