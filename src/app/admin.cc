#include "app/admin.h"

#include <nlohmann/json.hpp>

#include "net/bearer_auth.h"

namespace ballast::app {
namespace {

constexpr const char* kAlertsPath = "/v1/alerts";

net::HttpResponse json_response(int status, const nlohmann::json& body) {
  return {status, "application/json", body.dump() + "\n"};
}

net::HttpResponse handle_alerts(const net::HttpRequest& request, const AlertsRoute& alerts) {
  if (request.method != "POST") return {405, "text/plain; charset=utf-8", "use POST\n"};
  const auto authorization = request.headers.find("authorization");
  if (authorization == request.headers.end() || !net::accepted_bearer_token(authorization->second, alerts.tokens)) {
    return json_response(401, {{"error", "a bearer token from --alerts-token-file is required"}});
  }
  auto requests = nodepool::parse_alert_payload(request.body);
  if (!requests) return json_response(400, {{"error", requests.error().message}});
  if (!alerts.is_leader()) {
    // Only the leader acts. Alertmanager retries a 5xx with back-off; the connection is
    // closed so that the retry goes through the Service again and may reach the leader.
    auto refused = json_response(503, {{"error", "this replica does not lead the node pool; retry"}, {"leader", false}});
    refused.close_connection = true;
    return refused;
  }
  const size_t recorded = alerts.queue->add(*requests);
  return json_response(202, {{"requests", requests->size()}, {"recorded", recorded}, {"leader", true}});
}

}  // namespace

net::HttpResponse handle_admin(const net::HttpRequest& request, const MetricsRegistry& metrics, bool ready,
                               const std::string& detail, const AlertsRoute* alerts) {
  const std::string path = request.path();
  if (path == kAlertsPath) {
    return alerts != nullptr ? handle_alerts(request, *alerts)
                             : net::HttpResponse{404, "text/plain; charset=utf-8",
                                                 "not found: /v1/alerts is off (set --alerts-token-file)\n"};
  }
  if (request.method != "GET" && request.method != "HEAD") return {405, "text/plain; charset=utf-8", "use GET\n"};
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.render()};
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    return ready ? net::HttpResponse{200, "text/plain; charset=utf-8", "ready\n" + detail}
                 : net::HttpResponse{503, "text/plain; charset=utf-8", "not ready\n" + detail};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz or /readyz\n"};
}

}  // namespace ballast::app
