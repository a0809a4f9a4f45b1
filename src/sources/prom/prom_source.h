#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/config.h"
#include "core/metrics.h"
#include "scaler/metric_hub.h"
#include "scaler/metric_source.h"

namespace ballast::net {
class IoPool;
}  // namespace ballast::net

namespace ballast::prom {

// Keeps PromQL instant-query results fresh in the MetricHub: one poller per distinct
// source key (server, tenant, query, headers, parameters, TLS and auth options), however
// many triggers name it. A poller queries every pollInterval while the hub says the key
// is wanted, publishes each value, and on any failure (refused, timeout, 5xx, garbage,
// null) publishes the error instead, so the hub keeps the last good value until
// maxStaleness and never reads a failure as 0. RPCs only read the hub, so a slow server
// never holds one up.
//
// Owned by the composition root, created after the hub and the IoPool are running; the
// pollers are timers on the IoPool. stop() (also run by the destructor) must be called
// before the hub is destroyed: after it returns no poller touches the hub. watch() is
// called from gRPC threads and never blocks.
class PromSource final : public scaler::MetricSource {
 public:
  PromSource(net::IoPool& pool, scaler::MetricHub& hub, const std::map<std::string, AuthProfile>& auth_profiles,
             MetricsRegistry& metrics);
  ~PromSource() override;
  PromSource(const PromSource&) = delete;
  PromSource& operator=(const PromSource&) = delete;

  void watch(const scaler::TriggerSpec& spec) override;
  void stop();

  // A poller stops querying a key no RPC or stream asked for within this long, and
  // resumes on the next ask: max(10 × pollInterval, 5 min).
  static std::chrono::milliseconds idle_after(std::chrono::milliseconds poll_interval);

 private:
  class Poller;
  struct Shared;

  net::IoPool& pool_;
  const std::map<std::string, AuthProfile> auth_profiles_;
  std::shared_ptr<Shared> shared_;
  std::mutex mutex_;  // guards pollers_
  std::map<std::string, std::shared_ptr<Poller>> pollers_;
};

}  // namespace ballast::prom
