#include "app/admin.h"

namespace ballast::app {

net::HttpResponse handle_admin(const net::HttpRequest& request, const MetricsRegistry& metrics, bool ready,
                               const std::string& detail) {
  if (request.method != "GET" && request.method != "HEAD") return {405, "text/plain; charset=utf-8", "use GET\n"};
  const std::string path = request.path();
  if (path == "/metrics") return {200, "text/plain; version=0.0.4; charset=utf-8", metrics.render()};
  if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
  if (path == "/readyz") {
    return ready ? net::HttpResponse{200, "text/plain; charset=utf-8", "ready\n" + detail}
                 : net::HttpResponse{503, "text/plain; charset=utf-8", "not ready\n" + detail};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz or /readyz\n"};
}

}  // namespace ballast::app
