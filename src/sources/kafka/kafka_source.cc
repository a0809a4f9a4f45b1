#include "sources/kafka/kafka_source.h"

#include <variant>

#include "sources/kafka/cluster_poller.h"

namespace ballast::kafka {

KafkaSource::KafkaSource(scaler::MetricHub& hub, const std::map<std::string, AuthProfile>& auth_profiles,
                         MetricsRegistry& metrics, const Clock& clock)
    : hub_(hub), auth_profiles_(auth_profiles), metrics_(metrics), clock_(clock) {}

KafkaSource::~KafkaSource() { stop(); }

void KafkaSource::watch(const scaler::TriggerSpec& spec) {
  const auto* trigger = std::get_if<scaler::KafkaTrigger>(&spec.detail);
  if (!trigger) {
    hub_.publish_error(spec.source_key, "not a kafka trigger");
    return;
  }
  std::string servers;
  for (const auto& server : trigger->bootstrap_servers) servers += (servers.empty() ? "" : ",") + server;
  const std::string cluster_id = servers + "|" + spec.auth;

  std::lock_guard lock(mutex_);
  if (stopped_) return;
  auto& poller = clusters_[cluster_id];
  if (!poller) {
    // The profile is copied so a missing one is reported by the poller as that key's error.
    std::optional<AuthProfile> profile;
    if (const auto it = auth_profiles_.find(spec.auth); !spec.auth.empty() && it != auth_profiles_.end()) {
      profile = it->second;
    }
    poller = std::make_unique<ClusterPoller>(servers, trigger->bootstrap_servers, spec.auth, std::move(profile),
                                             ClusterPoller::Dependencies{hub_, metrics_, clock_});
  }
  poller->add(spec);
}

void KafkaSource::stop() {
  std::map<std::string, std::unique_ptr<ClusterPoller>> clusters;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    clusters.swap(clusters_);
  }
  // Destroying a poller joins its thread and closes its handle.
  clusters.clear();
}

size_t KafkaSource::cluster_handle_count() const {
  std::lock_guard lock(mutex_);
  size_t count = 0;
  for (const auto& [id, poller] : clusters_) count += poller->has_handle() ? 1 : 0;
  return count;
}

}  // namespace ballast::kafka
