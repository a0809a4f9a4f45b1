#include "kube/kube_config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "fakes/shell.h"

namespace {

using ballast::ErrorCode;
using ballast::kube::load_in_cluster;
using ballast::kube::load_kubeconfig;

using ballast::testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

constexpr const char* kInlineKubeconfig = R"(apiVersion: v1
kind: Config
current-context: k3s
contexts:
  - name: other
    context: {cluster: nowhere, user: nobody}
  - name: k3s
    context: {cluster: default, user: admin, namespace: ballast-system}
clusters:
  - name: default
    cluster:
      server: https://10.0.0.1:6443
      certificate-authority-data: Q0EgUEVN
users:
  - name: admin
    user:
      client-certificate-data: Q0VSVA==
      client-key-data: S0VZ
)";

TEST_CASE("a kubeconfig's current context gives the server, namespace and inline certificates as files") {
  TempDir dir;
  const auto path = dir.write("config", kInlineKubeconfig);
  auto config = load_kubeconfig(path, dir.path + "/inline");
  REQUIRE(config.ok());
  CHECK(config->server == "https://10.0.0.1:6443");
  CHECK(config->default_namespace == "ballast-system");
  CHECK(slurp(config->tls.ca_file) == "CA PEM");
  CHECK(slurp(config->tls.cert_file) == "CERT");
  CHECK(slurp(config->tls.key_file) == "KEY");
  CHECK(config->token.empty());
}

TEST_CASE("kubeconfig file references are relative to the kubeconfig and tokens are kept") {
  TempDir dir;
  const auto path = dir.write("config", R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://api:6443", certificate-authority: certs/ca.crt}}]
users: [{name: u, user: {token: abc, tokenFile: token}}]
)");
  auto config = load_kubeconfig(path, dir.path + "/inline");
  REQUIRE(config.ok());
  CHECK(config->tls.ca_file == dir.path + "/certs/ca.crt");
  CHECK(config->token == "abc");
  CHECK(config->token_file == dir.path + "/token");
}

TEST_CASE("broken kubeconfigs are errors that say what is wrong") {
  TempDir dir;
  const std::string deep = "current-context: c\nextensions: " + std::string(140, '[') + std::string(140, ']') + "\n";
  struct Case {
    const char* text;
    const char* says;
  };
  const Case cases[] = {
      {"current-context: \"\"\n", "no current-context"},
      {"current-context: c\ncontexts: []\n", "context \"c\" is missing"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: []\n", "cluster \"k\" is missing"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\nclusters: [{name: k, cluster: {}}]\n",
       "has no server"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://a'}}]\nusers: [{name: u, user: {exec: {command: x}}}]\n",
       "exec"},
      {"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
       "clusters: [{name: k, cluster: {server: 'https://a', certificate-authority-data: '@@@'}}]\n",
       "not base64"},
      {"{{{", "kubeconfig"},
      // A hostile or broken file is refused before any walk: too deep, or a key twice.
      {deep.c_str(), "deeper than 128"},
      {"current-context: a\ncurrent-context: b\n", "current-context"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto config = load_kubeconfig(dir.write("config", c.text), dir.path + "/inline");
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().code == ErrorCode::kInvalidArgument);
    CHECK_THAT(config.error().message, Catch::Contains(c.says));
  }
}

TEST_CASE("a kubeconfig larger than 1 MiB is refused before it is parsed") {
  TempDir dir;
  const auto path = dir.write("config", std::string(kInlineKubeconfig) + "# " + std::string(1 << 20, 'x') + "\n");
  auto config = load_kubeconfig(path, dir.path + "/inline");
  REQUIRE_FALSE(config.ok());
  CHECK_THAT(config.error().message, Catch::Contains("kubeconfig"));
}

TEST_CASE("in-cluster config reads the mounted service account and the service environment") {
  TempDir dir;
  dir.write("token", "tok\n");
  dir.write("namespace", "ballast-system\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.43.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto config = load_in_cluster(dir.path);
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  REQUIRE(config.ok());
  CHECK(config->server == "https://10.43.0.1:443");
  CHECK(config->token_file == dir.path + "/token");
  CHECK(config->tls.ca_file == dir.path + "/ca.crt");
  CHECK(config->default_namespace == "ballast-system");

  auto outside = load_in_cluster(dir.path);
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().code == ErrorCode::kNotFound);
}

}  // namespace
