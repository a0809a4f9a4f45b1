#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/result.h"

namespace ballast {

// The names of `--components` (CONTRACT.md). Only the ones this build implements are
// accepted; the rest are reserved for their issues.
inline constexpr const char* kComponentScaler = "scaler";
inline constexpr const char* kComponentSessions = "sessions";
inline constexpr const char* kComponentAdmission = "admission";
inline constexpr const char* kComponentGuard = "guard";
inline constexpr const char* kComponentNodepool = "nodepool";

struct ScalerConfig {
  std::string grpc_address = "0.0.0.0:9090";
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string client_ca_file;  // set → clients must present a certificate signed by it (mTLS)
};

struct SessionsConfig {
  std::string address = "0.0.0.0:9091";
  std::string token_file;
  bool insecure = false;  // accept publishers without a token (development only)
  std::chrono::milliseconds idle_timeout{60'000};
  // Peer replicas that share their session series (README "Replicas share their sessions").
  std::vector<std::string> peers;  // host:port, static
  std::string peers_dns;           // NAME or NAME:PORT; its A/AAAA records are peers
  // NAMESPACE/NAME or NAME (in --namespace): the Service whose EndpointSlices name the peers.
  std::string peers_service;
  std::string peers_token_file;    // first line presented, every line accepted
  // Publisher caps (README "Limits"); unset = the sessions component's defaults.
  std::optional<size_t> max_connections_per_token;
  std::optional<size_t> max_series;
  std::optional<size_t> max_series_per_token;
};

struct AdminConfig {
  std::string address = "0.0.0.0:9102";
  // Bearer tokens (one per line) Alertmanager presents on POST /v1/alerts; empty = the
  // route answers 404 (no unauthenticated way to order a VM).
  std::string alerts_token_file;
};

struct WebhookConfig {
  std::string address = "0.0.0.0:8443";
  std::string tls_cert_file;
  std::string tls_key_file;
};

// A named set of credentials that triggers reference with `auth: NAME` (KEDA does not
// forward TriggerAuthentication secrets to external scalers). Secrets stay in files
// (mounted Secrets) and are read by the source that uses them.
struct AuthProfile {
  std::string sasl_mechanism;  // Kafka: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; empty = no SASL
  std::string username;        // Kafka SASL user, or HTTP basic auth user
  std::string password_file;   // Kafka SASL password, or HTTP basic auth password
  std::string bearer_token_file;  // HTTP: Authorization: Bearer <file contents>
  bool tls = false;               // Kafka: connect with TLS (HTTP follows the URL scheme)
  std::string ca_file;
  std::string cert_file;          // client certificate (mTLS)
  std::string key_file;
  bool insecure_skip_verify = false;
};

// Effective configuration of `ballast serve`: defaults, then the YAML file, then flags.
// Parsed once at start-up; components receive their own slice.
struct Config {
  ScalerConfig scaler;
  SessionsConfig sessions;
  AdminConfig admin;
  WebhookConfig webhook;
  std::string policy_file;
  std::string namespace_name = "ballast-system";
  std::string kubeconfig;
  std::set<std::string> components;  // empty = all that can run
  bool dry_run = false;
  LogLevel log_level = LogLevel::kInfo;
  std::map<std::string, AuthProfile> auth_profiles;  // YAML only: the `auth:` section
};

// Namespace default: $POD_NAMESPACE when set, else ballast-system.
Config default_config();

// Reads a YAML config file over `base`. Keys are the flag names without dashes
// (`grpc-address: ...`); unknown keys are errors so a typo never passes silently.
Result<Config> load_config_file(const std::string& path, Config base);

// Applies `--flag value` / `--flag=value` arguments over `base`. `config_file` receives
// `--config`, which the caller loads before applying the remaining flags.
struct ParsedFlags {
  std::string config_file;
  std::vector<std::pair<std::string, std::string>> settings;  // flag name → value, in order
};
Result<ParsedFlags> parse_flags(const std::vector<std::string>& args);
Result<Config> apply_settings(const std::vector<std::pair<std::string, std::string>>& settings, Config base);

// A Service named by `--peers-service`: NAMESPACE/NAME, or NAME in `default_namespace`.
// Each part must be a DNS label (lower-case letters, digits, '-'; at most 63).
struct ServiceRef {
  std::string ns;
  std::string name;
};
Result<ServiceRef> parse_service_ref(const std::string& value, const std::string& default_namespace);

// Cross-field checks (TLS pairs, known components, addresses).
Status validate_config(const Config& config);

// The effective config as YAML, as `check-config` prints it.
std::string render_config(const Config& config);

// The flags `serve` accepts, for usage text.
std::string flags_usage();

}  // namespace ballast
