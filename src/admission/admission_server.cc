#include "admission/admission_server.h"

#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "admission/review_handler.h"
#include "core/log.h"
#include "net/https_server.h"

namespace ballast::admission {
namespace {

constexpr const char* kRequestsMetric = "ballast_admission_requests_total";
constexpr const char* kRequestsHelp = "Admission webhook requests by route and result.";
constexpr const char* kDurationMetric = "ballast_admission_duration_seconds";
constexpr const char* kDurationHelp = "Time to decode, decide and encode one admission request.";
constexpr const char* kReloadsMetric = "ballast_admission_certificate_reloads_total";
constexpr const char* kReloadsHelp = "Changes of the serving certificate files: loaded, or rejected and the old pair kept.";

// Metric objects are looked up once: the registry's lookup takes a lock, the hot path
// should not. Immutable after construction, so pool threads share it without a guard.
struct Instruments {
  explicit Instruments(MetricsRegistry& registry) : metrics(registry) {
    for (const char* route : {"mutate", "validate"}) {
      durations.emplace(route, &metrics.histogram(kDurationMetric, kDurationHelp, {{"route", route}},
                                                  latency_buckets_seconds()));
      for (const char* result : {"allowed", "patched", "denied", "bad_request"}) {
        counters.emplace(std::pair{std::string(route), std::string(result)},
                         &metrics.counter(kRequestsMetric, kRequestsHelp, {{"route", route}, {"result", result}}));
      }
    }
  }

  Counter& requests(const std::string& route, const std::string& result) {
    const auto it = counters.find({route, result});
    if (it != counters.end()) return *it->second;
    return metrics.counter(kRequestsMetric, kRequestsHelp, {{"route", route}, {"result", result}});
  }

  MetricsRegistry& metrics;
  std::map<std::pair<std::string, std::string>, Counter*> counters;
  std::map<std::string, Histogram*> durations;
};

}  // namespace

AdmissionServer::AdmissionServer(std::unique_ptr<net::HttpsServer> server) : server_(std::move(server)) {}

AdmissionServer::~AdmissionServer() { stop(); }

Result<std::unique_ptr<AdmissionServer>> AdmissionServer::start(net::IoPool& pool, const WebhookConfig& config,
                                                                 std::shared_ptr<const policy::TierPolicy> policy,
                                                                 MetricsRegistry& metrics) {
  if (config.tls_cert_file.empty() || config.tls_key_file.empty()) {
    return invalid_argument("the admission webhook needs --tls-cert-file and --tls-key-file (the apiserver calls HTTPS only)");
  }
  if (!policy) return invalid_argument("the admission webhook needs a tier policy");
  net::HttpsServerOptions options;
  options.address = config.address;
  options.cert_file = config.tls_cert_file;
  options.key_file = config.tls_key_file;
  options.body_limit = kAdmissionBodyLimit;
  options.logger_name = "admission";
  // A rotation that keeps failing leaves the old certificate to expire: alert on this.
  Counter& reloaded = metrics.counter(kReloadsMetric, kReloadsHelp, {{"result", "loaded"}});
  Counter& rejected = metrics.counter(kReloadsMetric, kReloadsHelp, {{"result", "rejected"}});
  options.on_certificate_reload = [&reloaded, &rejected](bool loaded) { (loaded ? reloaded : rejected).increment(); };

  auto instruments = std::make_shared<Instruments>(metrics);
  const Logger log("admission");
  auto server = net::HttpsServer::start(pool, options, [policy, instruments, log](const net::HttpRequest& request) {
    const auto started = std::chrono::steady_clock::now();
    HandledRequest handled = handle_request(request, *policy);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    instruments->requests(handled.route, handled.result).increment();
    if (const auto it = instruments->durations.find(handled.route); it != instruments->durations.end()) {
      it->second->observe(elapsed.count());
    }
    if (handled.result == "denied" || handled.result == "bad_request") {
      log.info(handled.result == "denied" ? "request denied" : "request refused",
               {{"route", handled.route}, {"uid", handled.uid}, {"reason", handled.reason}});
    } else if (log.enabled(LogLevel::kDebug)) {
      log.debug("request answered", {{"route", handled.route}, {"uid", handled.uid}, {"result", handled.result}});
    }
    return std::move(handled.response);
  });
  if (!server) return Error{server.error().code, "webhook-address: " + server.error().message};
  return std::unique_ptr<AdmissionServer>(new AdmissionServer(std::move(*server)));
}

uint16_t AdmissionServer::port() const { return server_->port(); }

void AdmissionServer::stop() {
  if (server_) server_->stop();
}

}  // namespace ballast::admission
