#include "sources/kafka/client_config.h"

#include <algorithm>
#include <cctype>

#include <librdkafka/rdkafka.h>

#include "core/file.h"

namespace ballast::kafka {
namespace {

Result<std::string> read_secret(const std::string& profile_name, const std::string& path) {
  auto text = read_regular_file(path);
  if (!text) return io_error("auth profile \"" + profile_name + "\": password_file: " + text.error().message);
  std::string secret = std::move(*text);
  // Mounted Secrets and `echo` leave a trailing newline that is not part of the password.
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

}  // namespace

Result<ClientSettings> client_settings(const std::vector<std::string>& bootstrap_servers,
                                       const std::string& profile_name, const AuthProfile* profile) {
  std::string servers;
  for (const auto& server : bootstrap_servers) servers += (servers.empty() ? "" : ",") + server;
  ClientSettings settings = {
      {"bootstrap.servers", servers},
      {"client.id", "ballast"},
      // Never joined (nothing subscribes), but librdkafka 2.0.2 dereferences the handle's
      // consumer group when an OffsetFetch answers NOT_COORDINATOR, as a broker does while
      // a group's coordinator moves (librdkafka#5040): without one the process crashes.
      {"group.id", "ballast-lag-reader"},
      {"isolation.level", "read_uncommitted"},
      {"reconnect.backoff.max.ms", "1000"},
      {"log.connection.close", "false"},
  };
  if (!profile) return settings;

  std::string mechanism = profile->sasl_mechanism;
  std::transform(mechanism.begin(), mechanism.end(), mechanism.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  const bool sasl = !mechanism.empty();
  if (sasl) {
    if (mechanism != "PLAIN" && mechanism != "SCRAM-SHA-256" && mechanism != "SCRAM-SHA-512") {
      return invalid_argument("auth profile \"" + profile_name + "\": sasl mechanism must be PLAIN, SCRAM-SHA-256 or " +
                              "SCRAM-SHA-512, got \"" + profile->sasl_mechanism + "\"");
    }
    if (profile->username.empty() || profile->password_file.empty()) {
      return invalid_argument("auth profile \"" + profile_name + "\": SASL needs username and password_file");
    }
    auto password = read_secret(profile_name, profile->password_file);
    if (!password) return password.error();
    settings.emplace_back("sasl.mechanisms", mechanism);
    settings.emplace_back("sasl.username", profile->username);
    settings.emplace_back("sasl.password", *password);
  }
  const bool tls = profile->tls || !profile->ca_file.empty() || !profile->cert_file.empty();
  settings.emplace_back("security.protocol", sasl ? (tls ? "sasl_ssl" : "sasl_plaintext") : (tls ? "ssl" : "plaintext"));
  if (!tls) return settings;
  if (profile->cert_file.empty() != profile->key_file.empty()) {
    return invalid_argument("auth profile \"" + profile_name + "\": cert_file and key_file go together");
  }
  if (!profile->ca_file.empty()) settings.emplace_back("ssl.ca.location", profile->ca_file);
  if (!profile->cert_file.empty()) {
    settings.emplace_back("ssl.certificate.location", profile->cert_file);
    settings.emplace_back("ssl.key.location", profile->key_file);
  }
  if (profile->insecure_skip_verify) {
    settings.emplace_back("enable.ssl.certificate.verification", "false");
    settings.emplace_back("ssl.endpoint.identification.algorithm", "none");
  }
  return settings;
}

Status check_auth_profiles(const std::map<std::string, AuthProfile>& profiles, int version) {
  if (version >= kScramFixedLibrdkafka) return Ok{};
  for (const auto& [name, profile] : profiles) {
    std::string mechanism = profile.sasl_mechanism;
    std::transform(mechanism.begin(), mechanism.end(), mechanism.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (mechanism.rfind("SCRAM-", 0) != 0) continue;
    const std::string linked = std::to_string((version >> 24) & 0xff) + "." + std::to_string((version >> 16) & 0xff) +
                               "." + std::to_string((version >> 8) & 0xff);
    return invalid_argument("auth profile \"" + name + "\": sasl.mechanism " + profile.sasl_mechanism +
                            " does not work with librdkafka " + linked +
                            " (before 2.6.1 its SCRAM repeats the client nonce and Kafka refuses the login, "
                            "librdkafka#4895): use PLAIN over TLS, or run a ballast built with librdkafka >= 2.6.1");
  }
  return Ok{};
}

Status check_auth_profiles(const std::map<std::string, AuthProfile>& profiles) {
  return check_auth_profiles(profiles, rd_kafka_version());
}

}  // namespace ballast::kafka
