#include "core/config.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "core/duration.h"
#include "core/file.h"
#include "core/net_address.h"
#include "core/yaml_document.h"

namespace ballast {
namespace {

Result<bool> parse_bool(const std::string& name, const std::string& value) {
  if (value == "true" || value == "1" || value.empty()) return true;
  if (value == "false" || value == "0") return false;
  return invalid_argument(name + ": expected true or false, got \"" + value + "\"");
}

using Setter = std::function<Status(Config&, const std::string& value)>;

struct Setting {
  std::string name;
  std::string help;
  bool is_bool;
  Setter apply;
};

Setter string_field(std::string Config::*field) {
  return [field](Config& c, const std::string& v) -> Status {
    c.*field = v;
    return Ok{};
  };
}

template <typename Slice>
Setter nested_string(Slice Config::*slice, std::string Slice::*field) {
  return [slice, field](Config& c, const std::string& v) -> Status {
    (c.*slice).*field = v;
    return Ok{};
  };
}

// A positive decimal count, such as a limit.
Setter sessions_count(const std::string& name, std::optional<size_t> SessionsConfig::*field) {
  return [name, field](Config& c, const std::string& v) -> Status {
    size_t count = 0;
    const auto [end, error] = std::from_chars(v.data(), v.data() + v.size(), count);
    if (v.empty() || error != std::errc() || end != v.data() + v.size() || count == 0) {
      return invalid_argument(name + ": expected a positive whole number, got \"" + v + "\"");
    }
    c.sessions.*field = count;
    return Ok{};
  };
}

const std::vector<Setting>& settings_table() {
  static const std::vector<Setting> table = {
      {"grpc-address", "KEDA ExternalScaler listen address (host:port)", false,
       nested_string(&Config::scaler, &ScalerConfig::grpc_address)},
      {"grpc-tls-cert-file", "scaler TLS certificate (PEM)", false,
       nested_string(&Config::scaler, &ScalerConfig::tls_cert_file)},
      {"grpc-tls-key-file", "scaler TLS private key (PEM)", false,
       nested_string(&Config::scaler, &ScalerConfig::tls_key_file)},
      {"grpc-client-ca-file", "CA that client certificates must chain to (enables mTLS)", false,
       nested_string(&Config::scaler, &ScalerConfig::client_ca_file)},
      {"sessions-address", "WebSocket session counters listen address", false,
       nested_string(&Config::sessions, &SessionsConfig::address)},
      {"sessions-token-file", "accepted publisher bearer tokens, one per line", false,
       nested_string(&Config::sessions, &SessionsConfig::token_file)},
      {"sessions-insecure", "accept publishers without a token (development only)", true,
       [](Config& c, const std::string& v) -> Status {
         auto flag = parse_bool("sessions-insecure", v);
         if (!flag) return flag.error();
         c.sessions.insecure = *flag;
         return Ok{};
       }},
      {"sessions-max-connections-per-token", "open publisher connections per bearer token (default 5120)", false,
       sessions_count("sessions-max-connections-per-token", &SessionsConfig::max_connections_per_token)},
      {"sessions-max-series", "publisher series this replica holds in all (default 20480)", false,
       sessions_count("sessions-max-series", &SessionsConfig::max_series)},
      {"sessions-max-series-per-token", "publisher series per bearer token (default 10240)", false,
       sessions_count("sessions-max-series-per-token", &SessionsConfig::max_series_per_token)},
      {"peers", "comma list of peer replicas' sessions addresses (host:port) to share session counters with",
       false,
       [](Config& c, const std::string& v) -> Status {
         c.sessions.peers.clear();
         std::stringstream list(v);
         std::string address;
         while (std::getline(list, address, ',')) {
           if (!address.empty()) c.sessions.peers.push_back(address);
         }
         return Ok{};
       }},
      {"peers-dns", "DNS name whose A records are the peer replicas (NAME or NAME:PORT)", false,
       nested_string(&Config::sessions, &SessionsConfig::peers_dns)},
      {"peers-service",
       "headless Service (NAMESPACE/NAME, or NAME in --namespace) whose ready EndpointSlice endpoints are the peer "
       "replicas, watched through the Kubernetes API",
       false, nested_string(&Config::sessions, &SessionsConfig::peers_service)},
      {"peers-token-file", "token peers present to each other (first line sent, every line accepted)", false,
       nested_string(&Config::sessions, &SessionsConfig::peers_token_file)},
      {"webhook-address", "admission webhook listen address (HTTPS)", false,
       nested_string(&Config::webhook, &WebhookConfig::address)},
      {"tls-cert-file", "webhook serving certificate (PEM)", false,
       nested_string(&Config::webhook, &WebhookConfig::tls_cert_file)},
      {"tls-key-file", "webhook serving key (PEM)", false,
       nested_string(&Config::webhook, &WebhookConfig::tls_key_file)},
      {"admin-address", "/metrics, /healthz, /readyz listen address", false,
       nested_string(&Config::admin, &AdminConfig::address)},
      {"alerts-token-file", "bearer tokens (one per line) accepted on the admin port's POST /v1/alerts", false,
       nested_string(&Config::admin, &AdminConfig::alerts_token_file)},
      {"policy", "tier policy YAML file", false, string_field(&Config::policy_file)},
      {"namespace", "namespace for ballast's Lease and Events", false, string_field(&Config::namespace_name)},
      {"kubeconfig", "kubeconfig file for Kubernetes API access", false, string_field(&Config::kubeconfig)},
      {"components", "comma list of components to run (scaler,sessions,admission,guard,nodepool)", false,
       [](Config& c, const std::string& v) -> Status {
         c.components.clear();
         std::stringstream list(v);
         std::string name;
         while (std::getline(list, name, ',')) {
           if (!name.empty()) c.components.insert(name);
         }
         return Ok{};
       }},
      {"dry-run", "reconcilers log the actions they would take and take none", true,
       [](Config& c, const std::string& v) -> Status {
         auto flag = parse_bool("dry-run", v);
         if (!flag) return flag.error();
         c.dry_run = *flag;
         return Ok{};
       }},
      {"log-level", "debug, info, warn or error", false,
       [](Config& c, const std::string& v) -> Status {
         auto level = parse_log_level(v);
         if (!level) return level.error();
         c.log_level = *level;
         return Ok{};
       }},
  };
  return table;
}

const Setting* find_setting(const std::string& name) {
  for (const auto& setting : settings_table()) {
    if (setting.name == name) return &setting;
  }
  return nullptr;
}

const std::vector<std::pair<const char*, std::string AuthProfile::*>> kAuthFileFields = {
    {"passwordFile", &AuthProfile::password_file}, {"bearerTokenFile", &AuthProfile::bearer_token_file},
    {"caFile", &AuthProfile::ca_file},             {"certFile", &AuthProfile::cert_file},
    {"keyFile", &AuthProfile::key_file}};

// One `auth:` entry: {sasl: {mechanism, username, passwordFile}, basic: {username,
// passwordFile}, bearerTokenFile, tls: {enabled, caFile, certFile, keyFile, insecureSkipVerify}}.
Result<AuthProfile> parse_auth_profile(const std::string& name, const YAML::Node& node) {
  const std::string where = "auth." + name;
  if (!node.IsMap()) return invalid_argument(where + " must be a mapping");
  AuthProfile profile;
  for (const auto& entry : node) {
    const auto key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "bearerTokenFile") {
      profile.bearer_token_file = value.as<std::string>();
    } else if (key == "sasl" || key == "basic") {
      if (!value.IsMap()) return invalid_argument(where + "." + key + " must be a mapping");
      for (const auto& field : value) {
        const auto field_name = field.first.as<std::string>();
        if (key == "sasl" && field_name == "mechanism") {
          profile.sasl_mechanism = field.second.as<std::string>();
          if (profile.sasl_mechanism != "PLAIN" && profile.sasl_mechanism != "SCRAM-SHA-256" &&
              profile.sasl_mechanism != "SCRAM-SHA-512") {
            return invalid_argument(where + ".sasl.mechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
          }
        } else if (field_name == "username") {
          profile.username = field.second.as<std::string>();
        } else if (field_name == "passwordFile") {
          profile.password_file = field.second.as<std::string>();
        } else {
          return invalid_argument(where + "." + key + ": unknown key \"" + field_name + "\"");
        }
      }
    } else if (key == "tls") {
      if (!value.IsMap()) return invalid_argument(where + ".tls must be a mapping");
      profile.tls = true;
      for (const auto& field : value) {
        const auto field_name = field.first.as<std::string>();
        if (field_name == "enabled") {
          profile.tls = field.second.as<bool>();
        } else if (field_name == "insecureSkipVerify") {
          profile.insecure_skip_verify = field.second.as<bool>();
        } else if (field_name == "caFile") {
          profile.ca_file = field.second.as<std::string>();
        } else if (field_name == "certFile") {
          profile.cert_file = field.second.as<std::string>();
        } else if (field_name == "keyFile") {
          profile.key_file = field.second.as<std::string>();
        } else {
          return invalid_argument(where + ".tls: unknown key \"" + field_name + "\"");
        }
      }
    } else {
      return invalid_argument(where + ": unknown key \"" + key + "\" (sasl, basic, bearerTokenFile, tls)");
    }
  }
  if (!profile.sasl_mechanism.empty() && (profile.username.empty() || profile.password_file.empty())) {
    return invalid_argument(where + ".sasl needs username and passwordFile");
  }
  if (profile.cert_file.empty() != profile.key_file.empty()) {
    return invalid_argument(where + ".tls: certFile and keyFile must be set together");
  }
  return profile;
}

}  // namespace

Config default_config() {
  Config config;
  if (const char* pod_namespace = std::getenv("POD_NAMESPACE"); pod_namespace != nullptr && *pod_namespace) {
    config.namespace_name = pod_namespace;
  }
  return config;
}

Result<Config> apply_settings(const std::vector<std::pair<std::string, std::string>>& settings, Config base) {
  for (const auto& [name, value] : settings) {
    const Setting* setting = find_setting(name);
    if (setting == nullptr) return invalid_argument("unknown setting \"" + name + "\"");
    if (auto applied = setting->apply(base, value); !applied) return applied.error();
  }
  return base;
}

Result<Config> load_config_file(const std::string& path, Config base) {
  std::vector<std::pair<std::string, std::string>> settings;
  auto text = read_regular_file(path, kMaxYamlFileBytes);
  if (!text) return Error{text.error().code, "config: " + text.error().message};
  try {
    const YAML::Node root = YAML::Load(*text);
    if (root.IsNull()) return base;
    if (auto checked = check_yaml_document(root); !checked) {
      return invalid_argument(path + ": " + checked.error().message);
    }
    if (!root.IsMap()) return invalid_argument(path + ": the config must be a YAML mapping of setting: value");
    for (const auto& entry : root) {
      const auto key = entry.first.as<std::string>();
      if (key == "auth") {
        if (!entry.second.IsMap()) return invalid_argument(path + ": auth must map profile names to settings");
        for (const auto& profile : entry.second) {
          const auto name = profile.first.as<std::string>();
          auto parsed = parse_auth_profile(name, profile.second);
          if (!parsed) return invalid_argument(path + ": " + parsed.error().message);
          base.auth_profiles[name] = std::move(*parsed);
        }
        continue;
      }
      if (find_setting(key) == nullptr) {
        return invalid_argument(path + ": unknown key \"" + key + "\" (keys are the flag names, e.g. grpc-address)");
      }
      const YAML::Node& value = entry.second;
      if (value.IsSequence()) {
        std::string joined;
        for (const auto& item : value) joined += (joined.empty() ? "" : ",") + item.as<std::string>();
        settings.emplace_back(key, joined);
      } else if (value.IsScalar()) {
        settings.emplace_back(key, value.as<std::string>());
      } else {
        return invalid_argument(path + ": key \"" + key + "\" must be a scalar or a list");
      }
    }
  } catch (const YAML::Exception& e) {
    return invalid_argument(path + ": invalid YAML: " + e.what());
  }
  auto applied = apply_settings(settings, std::move(base));
  if (!applied) return invalid_argument(path + ": " + applied.error().message);
  return applied;
}

Result<ParsedFlags> parse_flags(const std::vector<std::string>& args) {
  ParsedFlags parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) return invalid_argument("unexpected argument \"" + arg + "\"");
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const bool is_config = name == "config";
    const Setting* setting = find_setting(name);
    if (!is_config && setting == nullptr) return invalid_argument("unknown flag --" + name);
    if (!value) {
      if (setting != nullptr && setting->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return invalid_argument("flag --" + name + " needs a value");
      }
    }
    if (is_config) {
      parsed.config_file = *value;
    } else {
      parsed.settings.emplace_back(name, *value);
    }
  }
  return parsed;
}

Result<ServiceRef> parse_service_ref(const std::string& value, const std::string& default_namespace) {
  const auto slash = value.find('/');
  ServiceRef ref{slash == std::string::npos ? default_namespace : value.substr(0, slash),
                 slash == std::string::npos ? value : value.substr(slash + 1)};
  const auto is_label = [](const std::string& part) {
    if (part.empty() || part.size() > 63 || part.front() == '-' || part.back() == '-') return false;
    return std::all_of(part.begin(), part.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
  };
  if (!is_label(ref.ns) || !is_label(ref.name)) {
    return invalid_argument("expected NAMESPACE/NAME or NAME (DNS labels), got \"" + value + "\"");
  }
  return ref;
}

Status validate_config(const Config& config) {
  for (const auto& name : config.components) {
    if (name != kComponentScaler && name != kComponentSessions && name != kComponentAdmission &&
        name != kComponentGuard && name != kComponentNodepool) {
      return invalid_argument("components: unknown component \"" + name +
                              "\" (available: scaler, sessions, admission, guard, nodepool)");
    }
  }
  const std::pair<const char*, const std::string*> addresses[] = {
      {"grpc-address", &config.scaler.grpc_address},
      {"sessions-address", &config.sessions.address},
      {"webhook-address", &config.webhook.address},
      {"admin-address", &config.admin.address}};
  for (const auto& [name, address] : addresses) {
    if (auto parsed = parse_host_port(*address); !parsed) {
      return invalid_argument(std::string(name) + ": " + parsed.error().message);
    }
  }
  for (const auto& peer : config.sessions.peers) {
    auto parsed = parse_host_port(peer);
    if (!parsed) return invalid_argument("peers: " + parsed.error().message);
    if (parsed->port == 0) return invalid_argument("peers: " + peer + " needs a port");
  }
  if (!config.sessions.peers_service.empty()) {
    if (auto service = parse_service_ref(config.sessions.peers_service, config.namespace_name); !service) {
      return invalid_argument("peers-service: " + service.error().message);
    }
  }
  if (config.scaler.tls_cert_file.empty() != config.scaler.tls_key_file.empty()) {
    return invalid_argument("grpc-tls-cert-file and grpc-tls-key-file must be set together");
  }
  if (!config.scaler.client_ca_file.empty() && config.scaler.tls_cert_file.empty()) {
    return invalid_argument("grpc-client-ca-file needs grpc-tls-cert-file and grpc-tls-key-file");
  }
  if (config.webhook.tls_cert_file.empty() != config.webhook.tls_key_file.empty()) {
    return invalid_argument("tls-cert-file and tls-key-file must be set together");
  }
  const std::pair<const char*, const std::string*> files[] = {
      {"grpc-tls-cert-file", &config.scaler.tls_cert_file}, {"grpc-tls-key-file", &config.scaler.tls_key_file},
      {"grpc-client-ca-file", &config.scaler.client_ca_file}, {"sessions-token-file", &config.sessions.token_file},
      {"peers-token-file", &config.sessions.peers_token_file}, {"alerts-token-file", &config.admin.alerts_token_file},
      {"tls-cert-file", &config.webhook.tls_cert_file},       {"tls-key-file", &config.webhook.tls_key_file},
      {"policy", &config.policy_file},                        {"kubeconfig", &config.kubeconfig}};
  for (const auto& [name, file] : files) {
    if (file->empty()) continue;
    if (auto checked = check_regular_file(*file); !checked) {
      return invalid_argument(std::string(name) + ": " + checked.error().message);
    }
  }
  for (const auto& [profile_name, profile] : config.auth_profiles) {
    for (const auto& [field_name, field] : kAuthFileFields) {
      const std::string& file = profile.*field;
      if (file.empty()) continue;
      if (auto checked = check_regular_file(file); !checked) {
        return invalid_argument("auth." + profile_name + "." + field_name + ": " + checked.error().message);
      }
    }
  }
  return Ok{};
}

std::string render_config(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "grpc-address" << YAML::Value << config.scaler.grpc_address;
  out << YAML::Key << "grpc-tls-cert-file" << YAML::Value << config.scaler.tls_cert_file;
  out << YAML::Key << "grpc-tls-key-file" << YAML::Value << config.scaler.tls_key_file;
  out << YAML::Key << "grpc-client-ca-file" << YAML::Value << config.scaler.client_ca_file;
  out << YAML::Key << "sessions-address" << YAML::Value << config.sessions.address;
  out << YAML::Key << "sessions-token-file" << YAML::Value << config.sessions.token_file;
  out << YAML::Key << "sessions-insecure" << YAML::Value << config.sessions.insecure;
  {
    std::string peers;
    for (const auto& peer : config.sessions.peers) peers += (peers.empty() ? "" : ",") + peer;
    out << YAML::Key << "peers" << YAML::Value << peers;
  }
  const std::pair<const char*, const std::optional<size_t>*> caps[] = {
      {"sessions-max-connections-per-token", &config.sessions.max_connections_per_token},
      {"sessions-max-series", &config.sessions.max_series},
      {"sessions-max-series-per-token", &config.sessions.max_series_per_token}};
  for (const auto& [name, cap] : caps) {
    if (*cap) out << YAML::Key << name << YAML::Value << **cap;
  }
  out << YAML::Key << "peers-dns" << YAML::Value << config.sessions.peers_dns;
  out << YAML::Key << "peers-service" << YAML::Value << config.sessions.peers_service;
  out << YAML::Key << "peers-token-file" << YAML::Value << config.sessions.peers_token_file;
  out << YAML::Key << "webhook-address" << YAML::Value << config.webhook.address;
  out << YAML::Key << "tls-cert-file" << YAML::Value << config.webhook.tls_cert_file;
  out << YAML::Key << "tls-key-file" << YAML::Value << config.webhook.tls_key_file;
  out << YAML::Key << "admin-address" << YAML::Value << config.admin.address;
  out << YAML::Key << "alerts-token-file" << YAML::Value << config.admin.alerts_token_file;
  out << YAML::Key << "policy" << YAML::Value << config.policy_file;
  out << YAML::Key << "namespace" << YAML::Value << config.namespace_name;
  out << YAML::Key << "kubeconfig" << YAML::Value << config.kubeconfig;
  out << YAML::Key << "components" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const auto& name : config.components) out << name;
  out << YAML::EndSeq;
  out << YAML::Key << "dry-run" << YAML::Value << config.dry_run;
  out << YAML::Key << "log-level" << YAML::Value << std::string(log_level_name(config.log_level));
  if (!config.auth_profiles.empty()) {
    out << YAML::Key << "auth" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, profile] : config.auth_profiles) {
      out << YAML::Key << name << YAML::Value << YAML::BeginMap;
      if (!profile.sasl_mechanism.empty()) {
        out << YAML::Key << "sasl" << YAML::Value << YAML::BeginMap << YAML::Key << "mechanism" << YAML::Value
            << profile.sasl_mechanism << YAML::Key << "username" << YAML::Value << profile.username << YAML::Key
            << "passwordFile" << YAML::Value << profile.password_file << YAML::EndMap;
      } else if (!profile.username.empty()) {
        out << YAML::Key << "basic" << YAML::Value << YAML::BeginMap << YAML::Key << "username" << YAML::Value
            << profile.username << YAML::Key << "passwordFile" << YAML::Value << profile.password_file
            << YAML::EndMap;
      }
      if (!profile.bearer_token_file.empty()) {
        out << YAML::Key << "bearerTokenFile" << YAML::Value << profile.bearer_token_file;
      }
      if (profile.tls || !profile.ca_file.empty()) {
        out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap << YAML::Key << "enabled" << YAML::Value
            << profile.tls << YAML::Key << "caFile" << YAML::Value << profile.ca_file << YAML::Key << "certFile"
            << YAML::Value << profile.cert_file << YAML::Key << "keyFile" << YAML::Value << profile.key_file
            << YAML::Key << "insecureSkipVerify" << YAML::Value << profile.insecure_skip_verify << YAML::EndMap;
      }
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string flags_usage() {
  std::string out = "  --config FILE                 YAML config (keys are these flag names)\n";
  for (const auto& setting : settings_table()) {
    std::string left = "  --" + setting.name + (setting.is_bool ? "" : " VALUE");
    left.resize(std::max<size_t>(left.size() + 1, 32), ' ');
    out += left + setting.help + "\n";
  }
  return out;
}

}  // namespace ballast
