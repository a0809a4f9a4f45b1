#include "core/config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

using namespace ballast;

namespace {

// A temporary file removed when the test ends.
struct TempFile {
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/ballast-config-XXXXXX";
    const int fd = mkstemp(name);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

Config from_flags(const std::vector<std::string>& args) {
  auto flags = parse_flags(args);
  REQUIRE(flags.ok());
  auto config = apply_settings(flags->settings, Config{});
  REQUIRE(config.ok());
  return *config;
}

}  // namespace

TEST_CASE("defaults are the ones CONTRACT.md names", "[config]") {
  const Config config;
  CHECK(config.scaler.grpc_address == "0.0.0.0:9090");
  CHECK(config.sessions.address == "0.0.0.0:9091");
  CHECK(config.webhook.address == "0.0.0.0:8443");
  CHECK(config.admin.address == "0.0.0.0:9102");
  CHECK(config.namespace_name == "ballast-system");
  CHECK(config.log_level == LogLevel::kInfo);
  CHECK_FALSE(config.dry_run);
}

TEST_CASE("flags take both --flag value and --flag=value", "[config]") {
  const auto config = from_flags({"--grpc-address", "127.0.0.1:1", "--admin-address=127.0.0.1:2", "--dry-run",
                                  "--log-level", "debug", "--components", "scaler,sessions"});
  CHECK(config.scaler.grpc_address == "127.0.0.1:1");
  CHECK(config.admin.address == "127.0.0.1:2");
  CHECK(config.dry_run);
  CHECK(config.log_level == LogLevel::kDebug);
  CHECK(config.components == std::set<std::string>{"scaler", "sessions"});
}

TEST_CASE("peer flags name the peers, their DNS name and their token", "[config]") {
  const auto config = from_flags({"--peers", "10.0.0.1:9091,ballast-1.ballast:9091,", "--peers-dns=ballast-peers",
                                  "--peers-token-file", "/etc/ballast/peers/token"});
  CHECK(config.sessions.peers == std::vector<std::string>{"10.0.0.1:9091", "ballast-1.ballast:9091"});
  CHECK(config.sessions.peers_dns == "ballast-peers");
  CHECK(config.sessions.peers_token_file == "/etc/ballast/peers/token");
  CHECK(validate_config(from_flags({"--peers", "10.0.0.1:9091"})).ok());
  const auto no_port = validate_config(from_flags({"--peers", "10.0.0.1"}));
  REQUIRE_FALSE(no_port.ok());
  CHECK(no_port.error().message.find("peers") != std::string::npos);
}

TEST_CASE("the peers Service flag names a Service as NAMESPACE/NAME or NAME in --namespace", "[config]") {
  struct Row {
    const char* value;
    bool valid;
    const char* ns;
    const char* name;
  };
  const std::vector<Row> rows = {
      {"ballast-system/ballast-peers", true, "ballast-system", "ballast-peers"},
      {"ballast-peers", true, "apps", "ballast-peers"},
      {"a/b/c", false, "", ""},
      {"/ballast-peers", false, "", ""},
      {"ballast-system/", false, "", ""},
      {"Ballast-Peers", false, "", ""},
      {"-peers", false, "", ""},
      {"peers.example", false, "", ""},
  };
  for (const auto& row : rows) {
    INFO(row.value);
    const auto ref = parse_service_ref(row.value, "apps");
    REQUIRE(ref.ok() == row.valid);
    if (row.valid) {
      CHECK(ref->ns == row.ns);
      CHECK(ref->name == row.name);
    }
    const auto config = from_flags({"--peers-service", row.value});
    CHECK(config.sessions.peers_service == row.value);
    const auto validated = validate_config(config);
    CHECK(validated.ok() == row.valid);
    if (!validated.ok()) CHECK(validated.error().message.find("peers-service") != std::string::npos);
  }
}

TEST_CASE("bad flags are errors naming the flag", "[config]") {
  struct Row {
    std::vector<std::string> args;
    const char* fragment;
  };
  const std::vector<Row> rows = {{{"--no-such-flag", "x"}, "--no-such-flag"},
                                 {{"--grpc-address"}, "--grpc-address"},
                                 {{"positional"}, "positional"}};
  for (const auto& row : rows) {
    auto flags = parse_flags(row.args);
    REQUIRE_FALSE(flags.ok());
    CHECK(flags.error().message.find(row.fragment) != std::string::npos);
  }
  auto level = apply_settings({{"log-level", "loud"}}, Config{});
  REQUIRE_FALSE(level.ok());
  CHECK(level.error().message.find("log level") != std::string::npos);
}

TEST_CASE("the YAML file is read and flags win over it", "[config]") {
  TempFile file("grpc-address: 127.0.0.1:7000\nsessions-insecure: true\ncomponents: [scaler]\nlog-level: warn\n");
  auto loaded = load_config_file(file.path, Config{});
  REQUIRE(loaded.ok());
  CHECK(loaded->scaler.grpc_address == "127.0.0.1:7000");
  CHECK(loaded->sessions.insecure);
  CHECK(loaded->components == std::set<std::string>{"scaler"});
  auto overridden = apply_settings({{"grpc-address", "127.0.0.1:8000"}}, *loaded);
  REQUIRE(overridden.ok());
  CHECK(overridden->scaler.grpc_address == "127.0.0.1:8000");
  CHECK(overridden->log_level == LogLevel::kWarn);
}

TEST_CASE("invalid config files are clear errors", "[config]") {
  struct Row {
    const char* yaml;
    const char* fragment;
  };
  const Row rows[] = {{"grpc-adress: 1.2.3.4:1\n", "unknown key \"grpc-adress\""},
                      {"grpc-address: [\n", "invalid YAML"},
                      {"- a\n- b\n", "mapping"},
                      {"log-level: loud\n", "log level"},
                      {"admin-address: {a: b}\n", "scalar"},
                      {"log-level: info\nlog-level: debug\n", "duplicate key \"log-level\" (line 2)"},
                      {"auth:\n  kafka: {bearerTokenFile: /a, bearerTokenFile: /b}\n",
                       "duplicate key \"bearerTokenFile\""}};
  for (const auto& row : rows) {
    INFO(row.yaml);
    TempFile file(row.yaml);
    auto loaded = load_config_file(file.path, Config{});
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find(row.fragment) != std::string::npos);
  }
  TempFile deep("components: " + std::string(200, '[') + std::string(200, ']') + "\n");
  auto too_deep = load_config_file(deep.path, Config{});
  REQUIRE_FALSE(too_deep.ok());
  CHECK_THAT(too_deep.error().message, Catch::Contains("deeper than 128 levels"));
  auto missing = load_config_file("/nonexistent/ballast.yaml", Config{});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kIo);
  // A ConfigMap mount path instead of the file in it (this aborted with exit 134).
  auto directory = load_config_file("/tmp", Config{});
  REQUIRE_FALSE(directory.ok());
  CHECK(directory.error().code == ErrorCode::kIo);
  CHECK_THAT(directory.error().message, Catch::Contains("is a directory"));
}

TEST_CASE("every file setting refuses a directory, naming the setting", "[config]") {
  TempFile file("x");
  using Field = std::string*;
  struct Row {
    const char* name;
    Field (*field)(Config&);
  };
  const Row rows[] = {
      {"policy", [](Config& c) -> Field { return &c.policy_file; }},
      {"sessions-token-file", [](Config& c) -> Field { return &c.sessions.token_file; }},
      {"kubeconfig", [](Config& c) -> Field { return &c.kubeconfig; }},
      {"grpc-client-ca-file", [](Config& c) -> Field { return &c.scaler.client_ca_file; }},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    Config config;
    config.scaler.tls_cert_file = config.scaler.tls_key_file = file.path;  // so the CA alone is the question
    *row.field(config) = file.path;
    CHECK(validate_config(config).ok());
    *row.field(config) = "/tmp";
    const auto checked = validate_config(config);
    REQUIRE_FALSE(checked.ok());
    CHECK_THAT(checked.error().message, Catch::StartsWith(row.name) && Catch::Contains("is a directory"));
  }
  Config config;
  config.auth_profiles["mimir"].bearer_token_file = "/tmp";
  const auto checked = validate_config(config);
  REQUIRE_FALSE(checked.ok());
  CHECK_THAT(checked.error().message,
             Catch::Contains("auth.mimir.bearerTokenFile") && Catch::Contains("is a directory"));
}

TEST_CASE("validation rejects inconsistent settings", "[config]") {
  struct Row {
    std::vector<std::pair<std::string, std::string>> settings;
    const char* fragment;
  };
  const std::vector<Row> rows = {
      {{{"grpc-address", "nohost"}}, "grpc-address"},
      {{{"admin-address", "1.2.3.4:99999"}}, "admin-address"},
      {{{"grpc-tls-cert-file", "/etc/hostname"}}, "must be set together"},
      {{{"components", "scaler,autoscaler"}}, "unknown component \"autoscaler\""},
      {{{"sessions-token-file", "/nonexistent/tokens"}}, "sessions-token-file"},
  };
  for (const auto& row : rows) {
    auto config = apply_settings(row.settings, Config{});
    REQUIRE(config.ok());
    auto valid = validate_config(*config);
    REQUIRE_FALSE(valid.ok());
    CHECK(valid.error().message.find(row.fragment) != std::string::npos);
  }
  CHECK(validate_config(Config{}).ok());
}

TEST_CASE("the rendered config reads back to the same config", "[config]") {
  auto config = apply_settings({{"grpc-address", "127.0.0.1:1"}, {"components", "scaler"}, {"dry-run", "true"}},
                               Config{});
  REQUIRE(config.ok());
  TempFile file(render_config(*config));
  auto reread = load_config_file(file.path, Config{});
  REQUIRE(reread.ok());
  CHECK(render_config(*reread) == render_config(*config));
}

TEST_CASE("auth profiles are read from the auth section", "[config]") {
  TempFile password("s3cret\n");
  TempFile file("auth:\n"
                "  redpanda:\n"
                "    sasl: {mechanism: SCRAM-SHA-512, username: ballast, passwordFile: " + password.path + "}\n"
                "    tls: {caFile: /etc/hostname}\n"
                "  mimir:\n"
                "    bearerTokenFile: " + password.path + "\n");
  auto loaded = load_config_file(file.path, Config{});
  REQUIRE(loaded.ok());
  REQUIRE(loaded->auth_profiles.size() == 2);
  const auto& redpanda = loaded->auth_profiles.at("redpanda");
  CHECK(redpanda.sasl_mechanism == "SCRAM-SHA-512");
  CHECK(redpanda.username == "ballast");
  CHECK(redpanda.tls);
  CHECK(redpanda.ca_file == "/etc/hostname");
  CHECK(loaded->auth_profiles.at("mimir").bearer_token_file == password.path);
  CHECK(validate_config(*loaded).ok());
  TempFile rendered(render_config(*loaded));
  auto reread = load_config_file(rendered.path, Config{});
  REQUIRE(reread.ok());
  CHECK(render_config(*reread) == render_config(*loaded));
}

TEST_CASE("broken auth profiles are errors naming the profile", "[config]") {
  struct Row {
    const char* yaml;
    const char* fragment;
  };
  const Row rows[] = {
      {"auth:\n  p: {sasl: {mechanism: GSSAPI, username: u, passwordFile: /etc/hostname}}\n", "auth.p.sasl.mechanism"},
      {"auth:\n  p: {sasl: {mechanism: PLAIN, username: u}}\n", "auth.p.sasl needs"},
      {"auth:\n  p: {tls: {certFile: /etc/hostname}}\n", "auth.p.tls"},
      {"auth:\n  p: {kerberos: x}\n", "unknown key \"kerberos\""},
      {"auth: [a]\n", "auth must map"},
  };
  for (const auto& row : rows) {
    INFO(row.yaml);
    TempFile file(row.yaml);
    auto loaded = load_config_file(file.path, Config{});
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message.find(row.fragment) != std::string::npos);
  }
  TempFile missing("auth:\n  p: {bearerTokenFile: /nonexistent/token}\n");
  auto loaded = load_config_file(missing.path, Config{});
  REQUIRE(loaded.ok());
  auto valid = validate_config(*loaded);
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.error().message.find("auth.p.bearerTokenFile") != std::string::npos);
}
