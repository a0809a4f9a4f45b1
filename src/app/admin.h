#pragma once

#include <atomic>

#include "core/metrics.h"
#include "net/http_types.h"

namespace ballast::app {

// The admin endpoints as a free function: /metrics (Prometheus text), /healthz (the
// process serves), /readyz (every started component is up and not shutting down).
net::HttpResponse handle_admin(const net::HttpRequest& request, const MetricsRegistry& metrics, bool ready);

}  // namespace ballast::app
