#include "sources/kafka/client_config.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace ballast;
using namespace ballast::kafka;

namespace {

std::string setting(const ClientSettings& settings, const std::string& name) {
  for (const auto& [key, value] : settings) {
    if (key == name) return value;
  }
  return "<unset>";
}

// A password file unique to this process, removed at the end of the test.
struct SecretFile {
  explicit SecretFile(const std::string& contents)
      : path(std::filesystem::temp_directory_path() / ("ballast-kafka-secret-" + std::to_string(::getpid()))) {
    std::ofstream(path) << contents;
  }
  ~SecretFile() { std::filesystem::remove(path); }
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("without an auth profile the client is plaintext and reads high watermarks like KEDA", "[kafka][config]") {
  auto settings = client_settings({"a:9092", "b:9092"}, "", nullptr);
  REQUIRE(settings.ok());
  CHECK(setting(*settings, "bootstrap.servers") == "a:9092,b:9092");
  CHECK(setting(*settings, "isolation.level") == "read_uncommitted");
  CHECK(setting(*settings, "group.id") == "ballast-lag-reader");  // librdkafka#5040, see client_config.cc
  CHECK(setting(*settings, "security.protocol") == "<unset>");
}

TEST_CASE("SASL SCRAM over TLS reads the password file without its trailing newline", "[kafka][config]") {
  SecretFile secret("s3cret\n");
  AuthProfile profile;
  profile.sasl_mechanism = "scram-sha-512";
  profile.username = "ballast";
  profile.password_file = secret.path.string();
  profile.tls = true;
  profile.ca_file = "/etc/ca.pem";
  auto settings = client_settings({"a:9092"}, "redpanda", &profile);
  REQUIRE(settings.ok());
  CHECK(setting(*settings, "security.protocol") == "sasl_ssl");
  CHECK(setting(*settings, "sasl.mechanisms") == "SCRAM-SHA-512");
  CHECK(setting(*settings, "sasl.username") == "ballast");
  CHECK(setting(*settings, "sasl.password") == "s3cret");
  CHECK(setting(*settings, "ssl.ca.location") == "/etc/ca.pem");
}

TEST_CASE("SASL PLAIN without TLS is sasl_plaintext", "[kafka][config]") {
  SecretFile secret("pw");
  AuthProfile profile;
  profile.sasl_mechanism = "PLAIN";
  profile.username = "u";
  profile.password_file = secret.path.string();
  auto settings = client_settings({"a:9092"}, "plain", &profile);
  REQUIRE(settings.ok());
  CHECK(setting(*settings, "security.protocol") == "sasl_plaintext");
  CHECK(setting(*settings, "sasl.mechanisms") == "PLAIN");
}

TEST_CASE("mutual TLS with verification off", "[kafka][config]") {
  AuthProfile profile;
  profile.cert_file = "/etc/client.pem";
  profile.key_file = "/etc/client.key";
  profile.insecure_skip_verify = true;
  auto settings = client_settings({"a:9093"}, "mtls", &profile);
  REQUIRE(settings.ok());
  CHECK(setting(*settings, "security.protocol") == "ssl");
  CHECK(setting(*settings, "ssl.certificate.location") == "/etc/client.pem");
  CHECK(setting(*settings, "ssl.key.location") == "/etc/client.key");
  CHECK(setting(*settings, "enable.ssl.certificate.verification") == "false");
}

TEST_CASE("bad auth profiles are errors that name the profile", "[kafka][config]") {
  AuthProfile unknown_mechanism;
  unknown_mechanism.sasl_mechanism = "GSSAPI";
  unknown_mechanism.username = "u";
  unknown_mechanism.password_file = "/nonexistent";
  AuthProfile missing_file = unknown_mechanism;
  missing_file.sasl_mechanism = "PLAIN";
  missing_file.password_file = "/nonexistent/ballast-password";
  AuthProfile no_user = missing_file;
  no_user.username.clear();
  AuthProfile cert_without_key;
  cert_without_key.cert_file = "/etc/client.pem";
  for (const auto* profile : {&unknown_mechanism, &missing_file, &no_user, &cert_without_key}) {
    auto settings = client_settings({"a:9092"}, "broken", profile);
    REQUIRE_FALSE(settings.ok());
    CHECK_THAT(settings.error().message, Catch::Contains("\"broken\""));
  }
}

TEST_CASE("SCRAM profiles are refused at start-up with a librdkafka before 2.6.1, naming the version and the fix",
          "[client_config]") {
  AuthProfile scram;
  scram.sasl_mechanism = "SCRAM-SHA-512";
  AuthProfile plain;
  plain.sasl_mechanism = "PLAIN";
  AuthProfile tls_only;
  tls_only.tls = true;
  constexpr int kDebianBookworm = 0x020002ff;  // 2.0.2
  struct Case {
    std::map<std::string, AuthProfile> profiles;
    int version;
    bool refused;
  };
  const std::vector<Case> cases{
      {{{"redpanda", scram}}, kDebianBookworm, true},
      {{{"redpanda", scram}}, 0x020600ff, true},  // 2.6.0
      {{{"redpanda", scram}}, 0x020601ff, false},
      {{{"redpanda", scram}}, 0x020a00ff, false},  // 2.10.0
      {{{"a", plain}, {"b", tls_only}}, kDebianBookworm, false},
      {{}, kDebianBookworm, false},
  };
  for (const auto& c : cases) {
    const auto checked = check_auth_profiles(c.profiles, c.version);
    CHECK(checked.ok() == !c.refused);
  }
  const auto refused = check_auth_profiles({{"redpanda", scram}}, kDebianBookworm);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("auth profile \"redpanda\"") != std::string::npos);
  CHECK(refused.error().message.find("librdkafka 2.0.2") != std::string::npos);
  CHECK(refused.error().message.find("2.6.1") != std::string::npos);
}
