#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/metrics.h"
#include "net/http_types.h"
#include "nodepool/alert_requests.h"

namespace ballast::app {

// POST /v1/alerts: Alertmanager's webhook. Absent (no --alerts-token-file): 404.
struct AlertsRoute {
  std::vector<std::string> tokens;  // accepted bearer tokens, never empty
  nodepool::AlertRequestQueue* queue = nullptr;
  std::function<bool()> is_leader;  // a replica that does not lead answers 503 (retry) and records nothing
};

// The admin endpoints as a free function: /metrics (Prometheus text), /healthz (the
// process serves), /readyz (every started component is up and not shutting down), and
// POST /v1/alerts when `alerts` is set: 401 without an accepted token, 400 naming the bad
// key, else 202 with how many requests were new (Alertmanager re-sends firing alerts).
// `detail` is appended to the /readyz body (which peers are missing).
net::HttpResponse handle_admin(const net::HttpRequest& request, const MetricsRegistry& metrics, bool ready,
                               const std::string& detail = {}, const AlertsRoute* alerts = nullptr);

}  // namespace ballast::app
