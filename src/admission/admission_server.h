#pragma once

#include <cstdint>
#include <memory>

#include "core/config.h"
#include "core/metrics.h"
#include "core/result.h"
#include "policy/tier_policy.h"

namespace ballast::net {
class IoPool;
class HttpsServer;
}  // namespace ballast::net

namespace ballast::admission {

// Request bodies above this get 413: an UPDATE review carries the object and oldObject,
// each up to etcd's ~1.5 MiB, plus bulky managedFields.
inline constexpr size_t kAdmissionBodyLimit = 8 << 20;

// The admission webhook: HTTPS on the shared IoPool, routes from handle_request(), the
// serving certificate re-read when its files change. Counts
// ballast_admission_requests_total{route,result}, ballast_admission_duration_seconds{route}
// and ballast_admission_certificate_reloads_total{result}.
//
// Owned by the composition root, which starts it after the pool and stops it before the
// pool; the pool and metrics registry must outlive it. The policy is an immutable
// snapshot shared with the PDB guard. Requests run on the pool's threads.
class AdmissionServer {
 public:
  // Fails without a certificate and key (the apiserver only calls HTTPS webhooks), when
  // they do not load, or when the address cannot be bound.
  static Result<std::unique_ptr<AdmissionServer>> start(net::IoPool& pool, const WebhookConfig& config,
                                                        std::shared_ptr<const policy::TierPolicy> policy,
                                                        MetricsRegistry& metrics);
  ~AdmissionServer();
  AdmissionServer(const AdmissionServer&) = delete;
  AdmissionServer& operator=(const AdmissionServer&) = delete;

  uint16_t port() const;
  void stop();

 private:
  explicit AdmissionServer(std::unique_ptr<net::HttpsServer> server);
  std::unique_ptr<net::HttpsServer> server_;
};

}  // namespace ballast::admission
