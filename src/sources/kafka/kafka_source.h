#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "core/metrics.h"
#include "scaler/metric_hub.h"
#include "scaler/metric_source.h"

namespace ballast::kafka {

class ClusterPoller;

// The MetricSource for `source: kafka`: consumer-group lag with KEDA's semantics.
// Triggers on the same cluster (bootstrap servers + auth profile) share one librdkafka
// handle and one poller thread; no librdkafka call ever runs on a gRPC or Asio thread.
// Each key is polled every pollInterval while the hub says someone still reads it; a
// failed poll publishes an error and leaves the last good value to age out.
// Owned by the composition root: create it before the gRPC server, stop() it after.
class KafkaSource final : public scaler::MetricSource {
 public:
  KafkaSource(scaler::MetricHub& hub, const std::map<std::string, AuthProfile>& auth_profiles,
              MetricsRegistry& metrics, const Clock& clock);
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // From a gRPC thread, once per source key: hands the key to its cluster's poller.
  void watch(const scaler::TriggerSpec& spec) override;

  // Stops and joins every poller thread (each finishes the round it is in); idempotent.
  void stop();

  // librdkafka client handles open now: one per cluster, however many triggers use it.
  size_t cluster_handle_count() const;

 private:
  scaler::MetricHub& hub_;
  const std::map<std::string, AuthProfile> auth_profiles_;
  MetricsRegistry& metrics_;
  const Clock& clock_;
  mutable std::mutex mutex_;  // guards clusters_ and stopped_
  bool stopped_ = false;
  std::map<std::string, std::unique_ptr<ClusterPoller>> clusters_;  // by servers + auth profile
};

}  // namespace ballast::kafka
