#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "core/metrics.h"
#include "kube/kube_api.h"
#include "kube/kube_config.h"

namespace ballast::net {
class IoPool;
}

namespace ballast::kube {

// KubeApi over HTTPS (or plain HTTP for a local test server) on net::HttpClient. Owned by
// the composition root; must outlive the reconcilers and watches that use it. The bearer
// token file is re-read when it changes (a rotated projected token is a new file). A call
// the apiserver sheds with Retry-After is repeated after that wait (see throttle_wait).
class KubeClient final : public KubeApi {
 public:
  struct Options {
    std::chrono::milliseconds request_timeout{15'000};
    int max_throttle_retries = 5;                    // repeats of one call the apiserver shed
    std::chrono::seconds max_retry_after{10};        // cap on a Retry-After the client honours
    // When set, every exchange is counted as ballast_kube_api_requests_total{method, code}
    // (code: the HTTP status, or "error" when none came back); no path, name or header.
    MetricsRegistry* metrics = nullptr;
  };

  KubeClient(net::IoPool& pool, KubeConfig config);
  KubeClient(net::IoPool& pool, KubeConfig config, Options options);
  ~KubeClient() override;

  Result<nlohmann::json> get(const Resource& resource, std::string_view ns, std::string_view name) override;
  Result<std::string> list(const Resource& resource, std::string_view ns, const ListOptions& options,
                           const ListItemSink& take_item) override;
  Result<nlohmann::json> create(const Resource& resource, std::string_view ns, const nlohmann::json& object) override;
  Result<nlohmann::json> update(const Resource& resource, std::string_view ns, const nlohmann::json& object) override;
  Result<nlohmann::json> patch(const Resource& resource, std::string_view ns, std::string_view name, PatchType type,
                               const nlohmann::json& patch) override;
  Status remove(const Resource& resource, std::string_view ns, std::string_view name,
                const DeleteOptions& options) override;
  Result<EvictionResult> evict(std::string_view ns, std::string_view pod,
                               std::optional<int> grace_period_seconds) override;
  Result<bool> serves(const Resource& resource) override;
  std::unique_ptr<WatchHandle> watch(const Resource& resource, std::string_view ns, const WatchOptions& options,
                                     EventCallback on_event, EndCallback on_end) override;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// How long to wait before repeating a call the apiserver shed, client-go's rule: a 429,
// or any 5xx, that carries Retry-After (capped at `cap`). nullopt: answer the caller now
// (another status, no Retry-After, no retries left, or the wait would outlast `time_left`).
std::optional<std::chrono::milliseconds> throttle_wait(int http_status, std::optional<std::chrono::seconds> retry_after,
                                                      int retries_left, std::chrono::seconds cap,
                                                      std::chrono::milliseconds time_left);

}  // namespace ballast::kube
