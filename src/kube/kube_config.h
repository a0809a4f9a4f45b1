#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "net/http_client.h"

namespace ballast::kube {

// Where the apiserver is and how ballast authenticates to it. Certificates are files
// (net::TlsOptions); inline kubeconfig data is written to private files at load time.
struct KubeConfig {
  std::string server;   // https://host:port
  net::TlsOptions tls;
  std::string token;       // static bearer token
  std::string token_file;  // bearer token re-read when the file changes (bound tokens rotate)
  std::string default_namespace;
  std::string source;  // "in-cluster" or the kubeconfig path, for log lines
};

inline constexpr const char* kServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

// The service account mounted into the pod and KUBERNETES_SERVICE_HOST/PORT.
// kNotFound when not running in a cluster.
Result<KubeConfig> load_in_cluster(const std::string& service_account_dir = kServiceAccountDir);

// A kubeconfig file's current context: cluster server and CA, user token or client
// certificate, each inline (`*-data`, base64) or by file (relative to the kubeconfig).
// `inline_dir` receives inline certificate data (created 0700 when missing).
// The file must be a regular file of at most kMaxYamlFileBytes, nested at most
// kMaxNestingDepth levels, with no repeated key.
Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& inline_dir);
// The same from the file's text; `path` names it in errors and anchors relative paths.
Result<KubeConfig> parse_kubeconfig(std::string_view text, const std::string& path, const std::string& inline_dir);

// `--kubeconfig` when given, else in-cluster when running in a pod, else nullopt: the
// reconcilers stay off.
Result<std::optional<KubeConfig>> resolve_kube_config(const std::string& kubeconfig_flag);

}  // namespace ballast::kube
