#include "app/application.h"

#include <cstdlib>

#include "admission/admission_server.h"
#include "app/admin.h"
#include "app/node_providers.h"
#include "guard/reconciler/guard_reconciler.h"
#include "kube/event_recorder.h"
#include "kube/informer_factory.h"
#include "kube/kube_client.h"
#include "kube/leader_election.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "nodepool/reconciler/nodepool_reconciler.h"
#include "net/io_pool.h"
#include "peers/peer_hub.h"
#include "peers/service_discovery.h"
#include "scaler/grpc/grpc_server.h"
#include "policy/tier_policy.h"
#include "scaler/metric_hub.h"
#include "sources/kafka/client_config.h"
#include "sources/kafka/kafka_source.h"
#include "sources/prom/prom_source.h"
#include "core/uuid.h"
#include "sources/sessions/peer_upgrade.h"
#include "sources/sessions/session_registry.h"
#include "sources/sessions/session_server.h"

namespace ballast::app {

Result<std::set<std::string>> select_components(const Config& config, bool has_extra_tokens, bool has_kube_api) {
  const bool sessions_can_run = !config.sessions.token_file.empty() || config.sessions.insecure || has_extra_tokens;
  // The apiserver calls webhooks over HTTPS only.
  const bool admission_can_run = !config.webhook.tls_cert_file.empty();
  if (config.components.empty()) {
    std::set<std::string> all = {kComponentScaler};
    if (sessions_can_run) all.insert(kComponentSessions);
    if (admission_can_run) all.insert(kComponentAdmission);
    if (has_kube_api) all.insert({kComponentGuard, kComponentNodepool});
    return all;
  }
  for (const char* reconciler : {kComponentGuard, kComponentNodepool}) {
    if (config.components.count(reconciler) > 0 && !has_kube_api) {
      return invalid_argument(std::string(reconciler) +
                              " needs Kubernetes API access: --kubeconfig, or run in a cluster");
    }
  }
  if (config.components.count(kComponentSessions) > 0 && !sessions_can_run) {
    return invalid_argument("sessions needs --sessions-token-file (or --sessions-insecure for development)");
  }
  if (config.components.count(kComponentAdmission) > 0 && !admission_can_run) {
    return invalid_argument("admission needs --tls-cert-file and --tls-key-file (the webhook is HTTPS only)");
  }
  return config.components;
}

Result<std::shared_ptr<const policy::TierPolicy>> load_tier_policy(const Config& config) {
  if (config.policy_file.empty()) return std::make_shared<const policy::TierPolicy>(policy::default_policy());
  auto loaded = policy::load_policy(config.policy_file);
  if (!loaded) return Error{loaded.error().code, "policy: " + loaded.error().message};
  return std::make_shared<const policy::TierPolicy>(std::move(*loaded));
}

namespace {

bool with_peers(const SessionsConfig& sessions) {
  return !sessions.peers.empty() || !sessions.peers_dns.empty() || !sessions.peers_service.empty();
}

}  // namespace

Application::Application(Config config, std::vector<std::string> extra_session_tokens)
    : config_(std::move(config)), extra_session_tokens_(std::move(extra_session_tokens)) {}

Application::~Application() { stop(); }

Status Application::start() {
  auto kube_config = kube::resolve_kube_config(config_.kubeconfig);
  if (!kube_config) return Error{kube_config.error().code, "kubeconfig: " + kube_config.error().message};
  auto selected = select_components(config_, !extra_session_tokens_.empty(), kube_config->has_value());
  if (!selected) return selected.error();
  components_ = *selected;
  if (!kube_config->has_value() && config_.components.empty()) {
    logger_.warn("reconcilers are off: no --kubeconfig and not running in a cluster");
  }
  if (components_.count(kComponentSessions) == 0 && config_.components.empty()) {
    logger_.warn("sessions is off: set --sessions-token-file (or --sessions-insecure) to accept publishers");
  }
  const bool peers_on = components_.count(kComponentSessions) > 0 && with_peers(config_.sessions);
  if (components_.count(kComponentSessions) == 0 && with_peers(config_.sessions)) {
    logger_.warn("peers are ignored: they share session counters, and sessions is off");
  }
  const bool peers_from_api = peers_on && !config_.sessions.peers_service.empty();
  if (peers_from_api && !kube_config->has_value()) {
    return invalid_argument("peers-service needs Kubernetes API access: --kubeconfig, or run in a cluster");
  }
  if (components_.count(kComponentAdmission) == 0 && config_.components.empty()) {
    logger_.warn("admission is off: set --tls-cert-file and --tls-key-file to serve the webhook");
  }

  hub_ = std::make_unique<scaler::MetricHub>(clock_);
  scaler::register_hub_metrics(metrics_, *hub_);
  io_pool_ = std::make_unique<net::IoPool>(2);
  io_pool_->start();
  const bool reconcilers = components_.count(kComponentGuard) > 0 || components_.count(kComponentNodepool) > 0;
  if (reconcilers || peers_from_api) {
    kube::KubeClient::Options kube_options;
    kube_options.metrics = &metrics_;
    kube_client_ = std::make_unique<kube::KubeClient>(*io_pool_, std::move(**kube_config), kube_options);
  }

  if (components_.count(kComponentSessions) > 0) {
    if (auto started = start_sessions(); !started) return started;
  }
  if (components_.count(kComponentScaler) > 0) {
    if (auto started = start_scaler(); !started) return started;
  }
  if (components_.count(kComponentAdmission) > 0) {
    if (auto started = start_admission(); !started) return started;
  }
  if (reconcilers) {
    if (auto started = start_reconcilers(); !started) return started;
  }
  if (auto started = start_admin(); !started) return started;
  ready_ = true;
  std::string names;
  for (const auto& name : components_) names += (names.empty() ? "" : ",") + name;
  logger_.info("ballast started", {{"version", BALLAST_VERSION}, {"components", names}});
  return Ok{};
}

Status Application::start_sessions() {
  const auto& sessions_config = config_.sessions;
  sessions::RegistryOptions registry_options;
  // Random per process: a restarted replica is a new peer, never mistaken for its past self.
  registry_options.replica_id = make_uuid();
  if (sessions_config.max_series) registry_options.max_series = *sessions_config.max_series;
  if (sessions_config.max_series_per_token) registry_options.max_series_per_token = *sessions_config.max_series_per_token;
  session_registry_ = std::make_unique<sessions::SessionRegistry>(*hub_, metrics_, registry_options);
  sessions::SessionServerOptions options;
  options.address = sessions_config.address;
  options.insecure = sessions_config.insecure;
  options.idle_timeout = sessions_config.idle_timeout;
  if (sessions_config.max_connections_per_token) {
    options.max_connections_per_token = *sessions_config.max_connections_per_token;
  }
  options.tokens = extra_session_tokens_;
  std::vector<std::string> file_tokens;
  if (!sessions_config.token_file.empty()) {
    auto tokens = sessions::load_tokens(sessions_config.token_file);
    if (!tokens) return tokens.error();
    file_tokens = *tokens;
    options.tokens.insert(options.tokens.end(), tokens->begin(), tokens->end());
  }
  if (with_peers(sessions_config)) {
    peers::PeerOptions peer_options;
    peer_options.replica_id = registry_options.replica_id;
    peer_options.static_peers = sessions_config.peers;
    peer_options.dns_name = sessions_config.peers_dns;
    peer_options.service_discovery = !sessions_config.peers_service.empty();
    if (!sessions_config.peers_token_file.empty()) {
      auto tokens = sessions::load_tokens(sessions_config.peers_token_file);
      if (!tokens) return Error{tokens.error().code, "peers-token-file: " + tokens.error().message};
      peer_options.token = tokens->front();
      options.peer_tokens = *tokens;
    } else {
      // CONTRACT: the first line of --sessions-token-file, and any sessions token accepted.
      const auto& presented = file_tokens.empty() ? extra_session_tokens_ : file_tokens;
      if (!presented.empty()) peer_options.token = presented.front();
      options.peer_tokens = options.tokens;
    }
    if (peer_options.token.empty() && !options.insecure) {
      return invalid_argument("peers need a token: --peers-token-file or --sessions-token-file");
    }
    peer_hub_ = std::make_unique<peers::PeerHub>(*io_pool_, std::move(peer_options), *session_registry_, metrics_);
    options.on_peer = [hub = peer_hub_.get()](sessions::PeerUpgrade&& upgrade) { hub->accept(std::move(upgrade)); };
  }
  auto server = sessions::SessionServer::start(*io_pool_, options, *session_registry_, metrics_);
  if (!server) return Error{server.error().code, "sessions-address: " + server.error().message};
  session_server_ = std::move(*server);
  if (peer_hub_) peer_hub_->start(session_server_->port());
  if (peer_hub_ && !sessions_config.peers_service.empty()) {
    auto service = parse_service_ref(sessions_config.peers_service, config_.namespace_name);
    if (!service) return Error{service.error().code, "peers-service: " + service.error().message};
    peers::ServiceDiscoveryOptions discovery;
    discovery.ns = service->ns;
    discovery.service = service->name;
    discovery.endpoints.default_port = session_server_->port();
    // The pod's own IP (downward API) spares a dial to itself; without it the handshake finds it.
    if (const char* pod_ip = std::getenv("POD_IP"); pod_ip != nullptr) discovery.endpoints.self_ip = pod_ip;
    peer_discovery_ = std::make_unique<peers::ServiceDiscovery>(*kube_client_, *peer_hub_, std::move(discovery));
    peer_discovery_->start();
  }
  return Ok{};
}

bool Application::ready() const { return ready_.load() && (!peer_hub_ || peer_hub_->ready()); }

std::string Application::readiness_detail() const {
  if (!peer_hub_ || !ready_.load()) return {};
  std::string missing;
  for (const auto& peer : peer_hub_->peers()) {
    if (peer.state == peers::PeerStatus::State::kMissing) missing += (missing.empty() ? "" : ", ") + peer.address;
  }
  if (missing.empty()) return {};
  // Still ready past the sync wait: the others' answers need this replica as much as ever.
  return (peer_hub_->ready() ? "peers missing (their sessions do not count here): "
                             : "waiting for peers: ") + missing + "\n";
}

Status Application::start_scaler() {
  if (auto usable = kafka::check_auth_profiles(config_.auth_profiles); !usable) return usable.error();
  kafka_source_ = std::make_unique<kafka::KafkaSource>(*hub_, config_.auth_profiles, metrics_, clock_);
  prom_source_ = std::make_unique<prom::PromSource>(*io_pool_, *hub_, config_.auth_profiles, metrics_);
  scaler::Sources sources = {{scaler::SourceKind::kKafka, kafka_source_.get()},
                             {scaler::SourceKind::kPrometheus, prom_source_.get()}};
  if (session_registry_) sources[scaler::SourceKind::kSessions] = session_registry_.get();
  auto server = scaler::GrpcServer::start(config_.scaler, *hub_, std::move(sources), metrics_);
  if (!server) return server.error();
  grpc_server_ = std::move(*server);
  return Ok{};
}

Status Application::start_admission() {
  auto policy = load_tier_policy(config_);
  if (!policy) return policy.error();
  auto server = admission::AdmissionServer::start(*io_pool_, config_.webhook, std::move(*policy), metrics_);
  if (!server) return Error{server.error().code, "webhook-address: " + server.error().message};
  admission_server_ = std::move(*server);
  return Ok{};
}

Status Application::start_reconcilers() {
  kube::LeaderElectionOptions election;
  election.ns = config_.namespace_name;
  election.identity = kube::make_identity();
  event_recorder_ = std::make_unique<kube::EventRecorder>(*kube_client_, election.identity);
  informers_ = std::make_unique<kube::InformerFactory>(*kube_client_);
  const kube::ControllerContext controllers{*kube_client_, *informers_, *event_recorder_,
                                            [this] { return leader_elector_ && leader_elector_->is_leader(); },
                                            clock_, metrics_};
  if (components_.count(kComponentGuard) > 0) {
    auto policy = load_tier_policy(config_);
    if (!policy) return policy.error();
    kube::ControllerOptions guard_options = guard::default_guard_options();
    guard_options.dry_run = config_.dry_run;
    guard_ = std::make_unique<guard::GuardReconciler>(controllers, std::move(*policy), guard_options);
  }
  if (components_.count(kComponentNodepool) > 0) {
    provider_http_ = std::make_unique<net::HttpClient>(*io_pool_);
    providers::ProviderContext context;
    context.transport = providers::http_transport(*provider_http_);
    context.clock = &clock_;
    context.metrics = &metrics_;
    nodepool::NodePoolOptions nodepool_options;
    nodepool_options.controller.dry_run = config_.dry_run;
    nodepool_options.secrets_namespace = config_.namespace_name;
    if (!config_.admin.alerts_token_file.empty()) {
      alert_requests_ = std::make_shared<nodepool::AlertRequestQueue>();
      nodepool_options.alert_requests = alert_requests_;
    }
    nodepool_ = std::make_unique<nodepool::NodePoolReconciler>(
        controllers, provider_factory(*kube_client_, config_.namespace_name, std::move(context)), nodepool_options);
  }
  leader_elector_ = std::make_unique<kube::LeaderElector>(
      *kube_client_, clock_, election, kube::LeaderElector::Callbacks{[this] {
        if (guard_) guard_->poke();
        if (nodepool_) nodepool_->poke();
      }, [] {}});
  metrics_.add_sampler("ballast_leader", "1 while this replica holds the ballast-leader Lease", "gauge",
                       [this] {
                         const bool leader = leader_elector_ && leader_elector_->is_leader();
                         return std::vector<std::pair<Labels, double>>{{{}, leader ? 1.0 : 0.0}};
                       });
  if (guard_) guard_->start();
  if (nodepool_) nodepool_->start();
  leader_elector_->start();
  logger_.info("reconcilers started", {{"identity", election.identity}, {"dryRun", config_.dry_run}});
  return Ok{};
}

Status Application::start_admin() {
  net::HttpServerOptions options;
  options.address = config_.admin.address;
  std::shared_ptr<const AlertsRoute> alerts;
  if (!config_.admin.alerts_token_file.empty()) {
    if (!alert_requests_) return invalid_argument("alerts-token-file needs the nodepool component");
    auto tokens = sessions::load_tokens(config_.admin.alerts_token_file);
    if (!tokens) return Error{tokens.error().code, "alerts-token-file: " + tokens.error().message};
    alerts = std::make_shared<const AlertsRoute>(AlertsRoute{*tokens, alert_requests_.get(), [this] {
      const bool leader = leader_elector_ && leader_elector_->is_leader();
      if (leader && nodepool_) nodepool_->poke();  // act on the request now, not at the next interval
      return leader;
    }});
  }
  auto server = net::HttpServer::start(*io_pool_, options, [this, alerts](const net::HttpRequest& request) {
    return handle_admin(request, metrics_, ready(), readiness_detail(), alerts.get());
  });
  if (!server) return Error{server.error().code, "admin-address: " + server.error().message};
  admin_server_ = std::move(*server);
  return Ok{};
}

void Application::stop() {
  if (!io_pool_) return;
  ready_ = false;
  logger_.info("shutting down");
  if (grpc_server_) {
    grpc_server_->shutdown(std::chrono::seconds(5));
    logger_.debug("scaler stopped");
  }
  // Sources stop after the service that calls watch() and before the hub they feed.
  // The reconcilers stop writing before the lease is released for a successor.
  if (guard_) guard_->stop();
  if (nodepool_) nodepool_->stop();
  if (informers_) informers_->stop();
  if (leader_elector_) leader_elector_->stop();
  if (kafka_source_) kafka_source_->stop();
  if (prom_source_) prom_source_->stop();
  if (admission_server_) admission_server_->stop();
  if (session_server_) {
    session_server_->stop();
    logger_.debug("sessions stopped");
  }
  // After the publishers are gone, so peers hear of it before the link closes.
  if (peer_discovery_) peer_discovery_->stop();
  if (peer_hub_) peer_hub_->stop();
  if (admin_server_) admin_server_->stop();
  if (io_pool_) io_pool_->stop();
  grpc_server_.reset();
  admission_server_.reset();
  guard_.reset();
  nodepool_.reset();
  informers_.reset();
  leader_elector_.reset();
  event_recorder_.reset();
  provider_http_.reset();
  peer_discovery_.reset();
  kube_client_.reset();
  kafka_source_.reset();
  prom_source_.reset();
  session_server_.reset();
  peer_hub_.reset();
  admin_server_.reset();
  session_registry_.reset();
  io_pool_.reset();
  // The hub stays: /metrics samplers read it until the Application is destroyed.
  logger_.info("stopped");
}

uint16_t Application::grpc_port() const { return grpc_server_ ? grpc_server_->port() : 0; }
uint16_t Application::sessions_port() const { return session_server_ ? session_server_->port() : 0; }
uint16_t Application::admin_port() const { return admin_server_ ? admin_server_->port() : 0; }

}  // namespace ballast::app
