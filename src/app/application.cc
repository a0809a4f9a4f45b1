#include "app/application.h"

#include "app/admin.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "scaler/grpc_server.h"
#include "scaler/metric_hub.h"
#include "sources/sessions/session_registry.h"
#include "sources/sessions/session_server.h"

namespace ballast::app {

Result<std::set<std::string>> select_components(const Config& config, bool has_extra_tokens) {
  const bool sessions_can_run = !config.sessions.token_file.empty() || config.sessions.insecure || has_extra_tokens;
  if (config.components.empty()) {
    std::set<std::string> all = {kComponentScaler};
    if (sessions_can_run) all.insert(kComponentSessions);
    return all;
  }
  if (config.components.count(kComponentSessions) > 0 && !sessions_can_run) {
    return invalid_argument("sessions needs --sessions-token-file (or --sessions-insecure for development)");
  }
  return config.components;
}

Application::Application(Config config, std::vector<std::string> extra_session_tokens)
    : config_(std::move(config)), extra_session_tokens_(std::move(extra_session_tokens)) {}

Application::~Application() { stop(); }

Status Application::start() {
  auto selected = select_components(config_, !extra_session_tokens_.empty());
  if (!selected) return selected.error();
  components_ = *selected;
  if (components_.count(kComponentSessions) == 0 && config_.components.empty()) {
    logger_.warn("sessions is off: set --sessions-token-file (or --sessions-insecure) to accept publishers");
  }

  hub_ = std::make_unique<scaler::MetricHub>(clock_);
  metrics_.add_sampler("ballast_source_data_age_seconds", "Seconds since each source key last produced a value",
                       "gauge", [hub = hub_.get()] {
                         std::vector<std::pair<Labels, double>> samples;
                         for (const auto& entry : hub->status()) {
                           if (entry.age_seconds) samples.push_back({{{"source_key", entry.key}}, *entry.age_seconds});
                         }
                         return samples;
                       });
  metrics_.add_sampler("ballast_source_errors_total", "Failed refreshes per source key", "counter",
                       [hub = hub_.get()] {
                         std::vector<std::pair<Labels, double>> samples;
                         for (const auto& entry : hub->status()) {
                           samples.push_back({{{"source_key", entry.key}}, static_cast<double>(entry.errors)});
                         }
                         return samples;
                       });
  io_pool_ = std::make_unique<net::IoPool>(2);
  io_pool_->start();

  if (components_.count(kComponentSessions) > 0) {
    if (auto started = start_sessions(); !started) return started;
  }
  if (components_.count(kComponentScaler) > 0) {
    if (auto started = start_scaler(); !started) return started;
  }
  if (auto started = start_admin(); !started) return started;
  ready_ = true;
  std::string names;
  for (const auto& name : components_) names += (names.empty() ? "" : ",") + name;
  logger_.info("ballast started", {{"version", BALLAST_VERSION}, {"components", names}});
  return Ok{};
}

Status Application::start_sessions() {
  session_registry_ = std::make_unique<sessions::SessionRegistry>(*hub_, metrics_);
  sessions::SessionServerOptions options;
  options.address = config_.sessions.address;
  options.insecure = config_.sessions.insecure;
  options.idle_timeout = config_.sessions.idle_timeout;
  options.tokens = extra_session_tokens_;
  if (!config_.sessions.token_file.empty()) {
    auto tokens = sessions::load_tokens(config_.sessions.token_file);
    if (!tokens) return tokens.error();
    options.tokens.insert(options.tokens.end(), tokens->begin(), tokens->end());
  }
  auto server = sessions::SessionServer::start(*io_pool_, options, *session_registry_, metrics_);
  if (!server) return Error{server.error().code, "sessions-address: " + server.error().message};
  session_server_ = std::move(*server);
  return Ok{};
}

Status Application::start_scaler() {
  scaler::Sources sources;
  if (session_registry_) sources[scaler::SourceKind::kSessions] = session_registry_.get();
  auto server = scaler::GrpcServer::start(config_.scaler, *hub_, std::move(sources), metrics_);
  if (!server) return server.error();
  grpc_server_ = std::move(*server);
  return Ok{};
}

Status Application::start_admin() {
  net::HttpServerOptions options;
  options.address = config_.admin.address;
  auto server = net::HttpServer::start(*io_pool_, options, [this](const net::HttpRequest& request) {
    return handle_admin(request, metrics_, ready_.load());
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
  if (session_server_) {
    session_server_->stop();
    logger_.debug("sessions stopped");
  }
  if (admin_server_) admin_server_->stop();
  if (io_pool_) io_pool_->stop();
  grpc_server_.reset();
  session_server_.reset();
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
