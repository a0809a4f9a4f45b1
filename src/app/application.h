#pragma once

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/result.h"

namespace ballast::net {
class IoPool;
class HttpServer;
}  // namespace ballast::net
namespace ballast::scaler {
class MetricHub;
class GrpcServer;
}  // namespace ballast::scaler
namespace ballast::sessions {
class SessionRegistry;
class SessionServer;
}  // namespace ballast::sessions
namespace ballast::peers {
class PeerHub;
class ServiceDiscovery;
}  // namespace ballast::peers
namespace ballast::kafka {
class KafkaSource;
}  // namespace ballast::kafka
namespace ballast::prom {
class PromSource;
}  // namespace ballast::prom
namespace ballast::admission {
class AdmissionServer;
}  // namespace ballast::admission
namespace ballast::kube {
class KubeClient;
class InformerFactory;
class LeaderElector;
class EventRecorder;
}  // namespace ballast::kube
namespace ballast::guard {
class GuardReconciler;
}  // namespace ballast::guard
namespace ballast::nodepool {
class NodePoolReconciler;
class AlertRequestQueue;
}  // namespace ballast::nodepool
namespace ballast::net {
class HttpClient;
}  // namespace ballast::net

namespace ballast::app {

// The composition root: builds the components the config selects, starts them in
// order (hub, event loop, sessions, sources and scaler, admission, Kubernetes client with
// leader election and the reconcilers, admin) and stops them in reverse.
// start() and stop() are called from the main thread.
class Application {
 public:
  // `extra_session_tokens` are accepted besides the token file (the demo's generated token).
  explicit Application(Config config, std::vector<std::string> extra_session_tokens = {});
  ~Application();

  Status start();
  // Graceful: readiness off, streams finished with OK, listeners closed, in-flight drained.
  void stop();

  uint16_t grpc_port() const;
  uint16_t sessions_port() const;
  uint16_t admin_port() const;
  const std::set<std::string>& components() const { return components_; }
  MetricsRegistry& metrics() { return metrics_; }

 private:
  Status start_sessions();
  bool ready() const;
  std::string readiness_detail() const;
  Status start_scaler();
  Status start_admission();
  Status start_admin();
  Status start_reconcilers();

  Config config_;
  std::vector<std::string> extra_session_tokens_;
  std::set<std::string> components_;
  Logger logger_{"app"};
  SteadyClock clock_;
  MetricsRegistry metrics_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<scaler::MetricHub> hub_;
  std::unique_ptr<net::IoPool> io_pool_;
  std::unique_ptr<sessions::SessionRegistry> session_registry_;
  std::unique_ptr<peers::PeerHub> peer_hub_;
  std::unique_ptr<peers::ServiceDiscovery> peer_discovery_;
  std::unique_ptr<sessions::SessionServer> session_server_;
  std::unique_ptr<kafka::KafkaSource> kafka_source_;
  std::unique_ptr<prom::PromSource> prom_source_;
  std::unique_ptr<scaler::GrpcServer> grpc_server_;
  std::unique_ptr<admission::AdmissionServer> admission_server_;
  std::unique_ptr<kube::KubeClient> kube_client_;
  std::unique_ptr<kube::EventRecorder> event_recorder_;
  std::unique_ptr<kube::LeaderElector> leader_elector_;
  // The caches the reconcilers share; outlives them.
  std::unique_ptr<kube::InformerFactory> informers_;
  std::unique_ptr<guard::GuardReconciler> guard_;
  std::unique_ptr<net::HttpClient> provider_http_;
  std::unique_ptr<nodepool::NodePoolReconciler> nodepool_;
  std::shared_ptr<nodepool::AlertRequestQueue> alert_requests_;  // set with --alerts-token-file
  std::unique_ptr<net::HttpServer> admin_server_;
};

// The components `serve` runs: the configured list, else every one that can run.
// `has_kube_api`: a kubeconfig was given or ballast runs in a cluster (the reconcilers need it).
Result<std::set<std::string>> select_components(const Config& config, bool has_extra_tokens, bool has_kube_api);

}  // namespace ballast::app
namespace ballast::policy {
struct TierPolicy;
}  // namespace ballast::policy
namespace ballast::app {

// The policy file's tiers, or the built-in default table when none is configured.
Result<std::shared_ptr<const policy::TierPolicy>> load_tier_policy(const Config& config);

}  // namespace ballast::app
