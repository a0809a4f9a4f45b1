#pragma once

#include <atomic>
#include <string>

#include "core/metrics.h"
#include "net/http_types.h"

namespace ballast::app {

// The admin endpoints as a free function: /metrics (Prometheus text), /healthz (the
// process serves), /readyz (every started component is up and not shutting down).
// `detail` is appended to the /readyz body (which peers are missing).
net::HttpResponse handle_admin(const net::HttpRequest& request, const MetricsRegistry& metrics, bool ready,
                               const std::string& detail = {});

}  // namespace ballast::app
