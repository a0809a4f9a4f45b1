// Admission webhook benchmark:
//   1. in-process: handle_request() on a Deployment CREATE review (decode, tier policy,
//      diff, encode), p50/p99/max over N calls, no network;
//   2. over HTTPS: the real AdmissionServer on 127.0.0.1 with throwaway certificates, and
//      `wrk` posting the same review on keep-alive TLS connections. With --delay-ms 0 each
//      connection sends its next review as soon as the answer arrives (closed loop: the
//      rate is what the webhook sustains at that concurrency); with --delay-ms D each
//      connection pauses D ms between reviews. wrk's pauses are whole milliseconds on one
//      timer wheel, so connections wake together and their reviews arrive in bursts.
//   With --target PORT: only step 2, against the webhook of a running `ballast serve` on
//   127.0.0.1:PORT (bench/soak.sh).
// Usage: admission_bench [--calls N] [--seconds S] [--connections C] [--delay-ms D] [--threads T] [--io-threads I]
//                        [--target PORT]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admission/admission_server.h"
#include "admission/review_handler.h"
#include "fakes/test_certs.h"
#include "net/io_pool.h"
#include "policy/tier_policy.h"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

struct Options {
  int calls = 200'000;
  int seconds = 10;
  int connections = 12;
  int delay_ms = 2;
  int threads = 1;     // wrk's
  int io_threads = 2;  // the webhook's event loop, as `ballast serve` runs it
  int target = 0;      // a running webhook's port; 0 = start one in this process
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const int value = std::stoi(argv[i + 1]);
    if (key == "--calls") options.calls = value;
    else if (key == "--seconds") options.seconds = value;
    else if (key == "--connections") options.connections = value;
    else if (key == "--delay-ms") options.delay_ms = value;
    else if (key == "--threads") options.threads = value;
    else if (key == "--io-threads") options.io_threads = value;
    else if (key == "--target") options.target = value;
    else {
      std::fprintf(stderr, "unknown option %s\n", key.c_str());
      std::exit(2);
    }
  }
  return options;
}

// A Deployment CREATE as `kubectl apply` sends it, with managedFields and the
// last-applied annotation that make real reviews a few KiB.
std::string review_body() {
  const json object = json::parse(R"json({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"},
      "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app.kubernetes.io/name\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"web\"}},\"spec\":{\"containers\":[{\"image\":\"nginx:1.27\",\"name\":\"web\",\"ports\":[{\"containerPort\":80}]}]}}}}\n"},
      "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
        "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
        "f:labels": {".": {}, "f:app.kubernetes.io/name": {}}}, "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {},
        "f:revisionHistoryLimit": {}, "f:selector": {}, "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
        "f:type": {}}, "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}}},
        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
        "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}},
        "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}}, "f:dnsPolicy": {},
        "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}}}}]},
    "spec": {"replicas": 3, "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
      "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
      "template": {"metadata": {"labels": {"app.kubernetes.io/name": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
          "ports": [{"containerPort": 80, "protocol": "TCP"}], "resources": {},
          "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
          "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
          "securityContext": {}, "terminationGracePeriodSeconds": 30}}},
    "status": {}
  })json");
  return json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", "3f1e0b9c-1d2e-4f5a-8b7c-5d6e7f8a9b0c"},
                {"kind", {{"group", "apps"}, {"version", "v1"}, {"kind", "Deployment"}}},
                {"resource", {{"group", "apps"}, {"version", "v1"}, {"resource", "deployments"}}},
                {"namespace", "shop"},
                {"operation", "CREATE"},
                {"userInfo", {{"username", "kubernetes-admin"}, {"groups", {"kubeadm:cluster-admins", "system:authenticated"}}}},
                {"object", object},
                {"oldObject", nullptr},
                {"dryRun", false},
                {"options", {{"kind", "CreateOptions"}, {"apiVersion", "meta.k8s.io/v1"}, {"fieldManager", "kubectl-client-side-apply"}}}}}}
      .dump();
}

double percentile(std::vector<double>& samples, double p) {
  const size_t index = std::min(samples.size() - 1, static_cast<size_t>(p * static_cast<double>(samples.size())));
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(index), samples.end());
  return samples[index];
}

void in_process(const std::string& body, int calls) {
  const auto policy = ballast::policy::default_policy();
  const ballast::net::HttpRequest request{"POST", "/mutate?timeout=10s", {{"content-type", "application/json"}}, body};
  std::vector<double> micros;
  micros.reserve(static_cast<size_t>(calls));
  size_t bytes = 0;
  const auto begin = Clock::now();
  for (int i = 0; i < calls; ++i) {
    const auto start = Clock::now();
    const auto handled = ballast::admission::handle_request(request, policy);
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    bytes += handled.response.body.size();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  const double max = *std::max_element(micros.begin(), micros.end());
  std::printf("in-process handle_request: body %zu B, response %zu B, %d calls, %.0f calls/s on one thread, "
              "p50 %.1f us, p99 %.1f us, max %.1f us\n",
              body.size(), bytes / static_cast<size_t>(calls), calls, calls / seconds, percentile(micros, 0.50),
              percentile(micros, 0.99), max);
}

}  // namespace

// wrk posting `body` to https://127.0.0.1:port/mutate, from a Lua script written to `script`.
int run_wrk(const Options& options, const std::string& body, const std::string& script, int port) {
  {
    std::ofstream lua(script);
    lua << "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = "
        << json(body).dump() << "\n";
    // Without delay() each connection sends its next request as soon as the answer arrives.
    if (options.delay_ms > 0) lua << "function delay() return " << options.delay_ms << " end\n";
  }
  const std::string command = "wrk --latency -t" + std::to_string(options.threads) + " -c" +
                              std::to_string(options.connections) + " -d" + std::to_string(options.seconds) +
                              "s -s " + script + " 'https://127.0.0.1:" + std::to_string(port) + "/mutate?timeout=10s'";
  std::printf("%s\n", command.c_str());
  std::fflush(stdout);
  return std::system(command.c_str());
}

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  ballast::set_log_level(ballast::LogLevel::kWarn);
  const std::string body = review_body();
  if (options.target > 0) {
    char pattern[] = "/tmp/ballast-admission-bench-XXXXXX";
    const std::string dir = mkdtemp(pattern);
    const int status = run_wrk(options, body, dir + "/review.lua", options.target);
    std::filesystem::remove_all(dir);
    return status == 0 ? 0 : 1;
  }
  in_process(body, options.calls);

  ballast::testing::TestCerts certs;
  if (!certs.ok()) {
    std::fprintf(stderr, "openssl could not make test certificates\n");
    return 1;
  }
  ballast::MetricsRegistry metrics;
  ballast::net::IoPool pool(static_cast<size_t>(options.io_threads));
  pool.start();
  ballast::WebhookConfig config;
  config.address = "127.0.0.1:0";
  config.tls_cert_file = certs.path("server.crt");
  config.tls_key_file = certs.path("server.key");
  auto server = ballast::admission::AdmissionServer::start(
      pool, config, std::make_shared<const ballast::policy::TierPolicy>(ballast::policy::default_policy()), metrics);
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start the webhook: %s\n", server.error().message.c_str());
    return 1;
  }
  const int status = run_wrk(options, body, certs.path("review.lua"), (*server)->port());
  const auto& patched = metrics.counter("ballast_admission_requests_total", "", {{"route", "mutate"}, {"result", "patched"}});
  std::printf("webhook answered %.0f reviews with a patch\n", patched.value());
  (*server)->stop();
  pool.stop();
  return status == 0 ? 0 : 1;
}
