#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "kube/kube_api.h"

namespace ballast::kube {

struct LeaderElectionOptions {
  std::string ns = "ballast-system";
  std::string lease_name = "ballast-leader";
  std::string identity;  // pod name plus a random suffix (make_identity)
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

// "$HOSTNAME_<random hex>": unique per process even when a pod restarts in place.
std::string make_identity();

// Lease-based leader election (coordination.k8s.io/v1), client-go's algorithm: a lease
// held by someone else counts as expired only when its record has not changed for
// leaseDuration on *our* clock (no trust in other nodes' clocks); the leader renews every
// retryPeriod and steps down when it has not renewed for renewDeadline, before anyone
// else may take over. Writes are conditional on the lease's resourceVersion, so two
// candidates never both win.
//
// Owned by the composition root. step() does one acquire-or-renew round (tests drive it
// with a fake clock); start() runs it every retryPeriod on a thread of its own; stop()
// joins that thread and releases the lease if held, so a successor takes over at once.
// The callbacks run on the elector's thread; `on_stopped_leading` must make the
// reconcilers stop writing before it returns.
class LeaderElector {
 public:
  struct Callbacks {
    std::function<void()> on_started_leading;
    std::function<void()> on_stopped_leading;
  };

  LeaderElector(KubeApi& api, const Clock& clock, LeaderElectionOptions options, Callbacks callbacks);
  ~LeaderElector();
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // One round; returns whether this instance leads after it.
  bool step();
  void start();
  void stop();

  bool is_leader() const { return leader_.load(); }
  const std::string& identity() const { return options_.identity; }

 private:
  bool try_acquire_or_renew(Clock::time_point now);
  void set_leader(bool leader);
  void release();
  nlohmann::json lease_spec(const nlohmann::json& previous, bool acquiring) const;

  KubeApi& api_;
  const Clock& clock_;
  const LeaderElectionOptions options_;
  const Callbacks callbacks_;
  Logger log_;

  std::atomic<bool> leader_{false};
  // Touched by the stepping thread only.
  nlohmann::json observed_spec_;
  Clock::time_point observed_at_{};
  Clock::time_point last_renew_{};

  std::mutex mutex_;  // guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ballast::kube
