#pragma once

#include <memory>

#include "kube/kube_api.h"
#include "kube/kube_config.h"

namespace ballast::net {
class IoPool;
}

namespace ballast::kube {

// KubeApi over HTTPS (or plain HTTP for a local test server) on net::HttpClient. Owned by
// the composition root; must outlive the reconcilers and watches that use it. The bearer
// token file is re-read when its modification time changes.
class KubeClient final : public KubeApi {
 public:
  struct Options {
    std::chrono::milliseconds request_timeout{15'000};
  };

  KubeClient(net::IoPool& pool, KubeConfig config);
  KubeClient(net::IoPool& pool, KubeConfig config, Options options);
  ~KubeClient() override;

  Result<nlohmann::json> get(const Resource& resource, std::string_view ns, std::string_view name) override;
  Result<ObjectList> list(const Resource& resource, std::string_view ns, const ListOptions& options) override;
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

}  // namespace ballast::kube
