#include "kube/kube_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <yaml-cpp/yaml.h>

#include "core/base64.h"
#include "core/file.h"
#include "core/yaml_document.h"

namespace ballast::kube {
namespace {

std::string trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

// The kubeconfig entry named `name` in one of its lists (clusters, users, contexts).
YAML::Node named_entry(const YAML::Node& root, const char* list, const std::string& name, const char* body) {
  for (const auto& entry : root[list]) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry[body];
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

std::string string_at(const YAML::Node& node, const char* key) {
  return node && node[key] && node[key].IsScalar() ? node[key].as<std::string>() : std::string();
}

std::string relative_to(const std::string& kubeconfig, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  const size_t slash = kubeconfig.rfind('/');
  return slash == std::string::npos ? path : kubeconfig.substr(0, slash + 1) + path;
}

// `KEY-data` inline (written to `inline_dir/NAME`) or `KEY` as a file path.
Result<std::string> file_or_data(const YAML::Node& node, const std::string& key, const std::string& kubeconfig,
                                 const std::string& inline_dir, const std::string& name) {
  const std::string data = string_at(node, (key + "-data").c_str());
  if (data.empty()) return relative_to(kubeconfig, string_at(node, key.c_str()));
  auto decoded = base64_decode(data);
  if (!decoded) return invalid_argument("kubeconfig: " + key + "-data is " + decoded.error().message);
  ::mkdir(inline_dir.c_str(), 0700);
  const std::string path = inline_dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << *decoded;
  out.close();
  if (!out) return io_error("cannot write \"" + path + "\" for kubeconfig " + key + "-data");
  ::chmod(path.c_str(), 0600);
  return path;
}

}  // namespace

Result<KubeConfig> load_in_cluster(const std::string& service_account_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') return Error{ErrorCode::kNotFound, "KUBERNETES_SERVICE_HOST is not set"};
  KubeConfig config;
  const std::string host_text = host;
  config.server = "https://" + (host_text.find(':') != std::string::npos ? "[" + host_text + "]" : host_text) + ":" +
                  (port != nullptr && *port != '\0' ? port : "443");
  config.tls.ca_file = service_account_dir + "/ca.crt";
  config.token_file = service_account_dir + "/token";
  if (::access(config.token_file.c_str(), R_OK) != 0) {
    return io_error("in-cluster: cannot read the service account token \"" + config.token_file + "\"");
  }
  if (auto ns = read_regular_file(service_account_dir + "/namespace")) config.default_namespace = trim(*ns);
  config.source = "in-cluster";
  return config;
}

Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& inline_dir) {
  auto text = read_regular_file(path, kMaxYamlFileBytes);
  if (!text) return Error{text.error().code, "kubeconfig: " + text.error().message};
  return parse_kubeconfig(*text, path, inline_dir);
}

Result<KubeConfig> parse_kubeconfig(std::string_view text, const std::string& path, const std::string& inline_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    return invalid_argument("kubeconfig \"" + path + "\": " + error.what());
  }
  if (auto checked = check_yaml_document(root); !checked) {
    return invalid_argument("kubeconfig \"" + path + "\": " + checked.error().message);
  }
  try {
    const std::string context_name = string_at(root, "current-context");
    if (context_name.empty()) return invalid_argument("kubeconfig \"" + path + "\" has no current-context");
    const YAML::Node context = named_entry(root, "contexts", context_name, "context");
    if (!context) return invalid_argument("kubeconfig \"" + path + "\": context \"" + context_name + "\" is missing");
    const std::string cluster_name = string_at(context, "cluster");
    const YAML::Node cluster = named_entry(root, "clusters", cluster_name, "cluster");
    if (!cluster) return invalid_argument("kubeconfig \"" + path + "\": cluster \"" + cluster_name + "\" is missing");
    const YAML::Node user = named_entry(root, "users", string_at(context, "user"), "user");

    KubeConfig config;
    config.source = path;
    config.server = string_at(cluster, "server");
    if (config.server.empty()) return invalid_argument("kubeconfig \"" + path + "\": cluster has no server");
    config.default_namespace = string_at(context, "namespace");
    config.tls.insecure_skip_verify = string_at(cluster, "insecure-skip-tls-verify") == "true";
    auto ca = file_or_data(cluster, "certificate-authority", path, inline_dir, "ca.crt");
    if (!ca) return ca.error();
    config.tls.ca_file = *ca;
    if (user) {
      auto cert = file_or_data(user, "client-certificate", path, inline_dir, "client.crt");
      if (!cert) return cert.error();
      auto key = file_or_data(user, "client-key", path, inline_dir, "client.key");
      if (!key) return key.error();
      config.tls.cert_file = *cert;
      config.tls.key_file = *key;
      config.token = string_at(user, "token");
      config.token_file = relative_to(path, string_at(user, "tokenFile"));
      if (user["exec"] || user["auth-provider"]) {
        return invalid_argument("kubeconfig \"" + path + "\": exec and auth-provider credentials are not supported; "
                                "use a token, a token file or a client certificate");
      }
    }
    return config;
  } catch (const YAML::Exception& error) {
    return invalid_argument("kubeconfig \"" + path + "\": " + error.what());
  }
}

Result<std::optional<KubeConfig>> resolve_kube_config(const std::string& kubeconfig_flag) {
  if (!kubeconfig_flag.empty()) {
    const std::string inline_dir = "/tmp/ballast-kubeconfig-" + std::to_string(::getpid());
    auto config = load_kubeconfig(kubeconfig_flag, inline_dir);
    if (!config) return config.error();
    return std::optional<KubeConfig>(std::move(*config));
  }
  auto in_cluster = load_in_cluster();
  if (in_cluster) return std::optional<KubeConfig>(std::move(*in_cluster));
  if (in_cluster.error().code == ErrorCode::kNotFound) return std::optional<KubeConfig>();
  return in_cluster.error();
}

}  // namespace ballast::kube
