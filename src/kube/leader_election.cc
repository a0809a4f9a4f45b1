#include "kube/leader_election.h"

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "core/thread_name.h"
#include "core/timestamp.h"

namespace ballast::kube {
namespace {

using nlohmann::json;

std::string holder_of(const json& spec) {
  return spec.is_object() ? spec.value("holderIdentity", std::string()) : std::string();
}

}  // namespace

std::string make_identity() {
  const char* host = std::getenv("HOSTNAME");
  std::string name = host != nullptr && *host != '\0' ? host : "ballast";
  std::random_device random;
  char suffix[9];
  std::snprintf(suffix, sizeof(suffix), "%08x", random());
  return name + "_" + suffix;
}

LeaderElector::LeaderElector(KubeApi& api, const Clock& clock, LeaderElectionOptions options, Callbacks callbacks)
    : api_(api), clock_(clock), options_(std::move(options)), callbacks_(std::move(callbacks)), log_("leader") {}

LeaderElector::~LeaderElector() { stop(); }

json LeaderElector::lease_spec(const json& previous, bool acquiring) const {
  json spec = previous.is_object() ? previous : json::object();
  const std::string now = format_micro_time(std::chrono::system_clock::now());
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = options_.lease_duration.count();
  spec["renewTime"] = now;
  if (acquiring) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + (holder_of(previous).empty() ? 0 : 1);
  }
  return spec;
}

bool LeaderElector::try_acquire_or_renew(Clock::time_point now) {
  auto lease = api_.get(leases(), options_.ns, options_.lease_name);
  if (!lease) {
    if (lease.error().code != ErrorCode::kNotFound) {
      log_.warn("cannot read the lease", {{"lease", options_.lease_name}, {"error", lease.error().message}});
      return false;
    }
    json object = {{"apiVersion", "coordination.k8s.io/v1"},
                   {"kind", "Lease"},
                   {"metadata", {{"name", options_.lease_name}, {"namespace", options_.ns}}},
                   {"spec", lease_spec(json::object(), true)}};
    auto created = api_.create(leases(), options_.ns, object);
    if (!created) {
      log_.debug("lease create lost", {{"error", created.error().message}});
      return false;
    }
    observed_spec_ = (*created)["spec"];
    observed_at_ = now;
    return true;
  }

  const json spec = lease->value("spec", json::object());
  if (spec != observed_spec_) {
    observed_spec_ = spec;
    observed_at_ = now;
  }
  const std::string holder = holder_of(spec);
  const auto duration = std::chrono::seconds(spec.value("leaseDurationSeconds", options_.lease_duration.count()));
  if (!holder.empty() && holder != options_.identity && now < observed_at_ + duration) return false;

  json updated = *lease;
  updated["spec"] = lease_spec(spec, holder != options_.identity);
  auto written = api_.update(leases(), options_.ns, updated);
  if (!written) {
    log_.debug("lease update lost", {{"error", written.error().message}});
    return false;
  }
  observed_spec_ = (*written)["spec"];
  observed_at_ = now;
  return true;
}

bool LeaderElector::step() {
  const auto now = clock_.now();
  if (try_acquire_or_renew(now)) {
    last_renew_ = now;
    set_leader(true);
  } else if (is_leader() && now - last_renew_ >= options_.renew_deadline) {
    log_.warn("could not renew the lease in time, stepping down", {{"lease", options_.lease_name}});
    set_leader(false);
  }
  return is_leader();
}

void LeaderElector::set_leader(bool leader) {
  if (leader_.exchange(leader) == leader) return;
  log_.info(leader ? "became leader" : "lost leadership",
            {{"lease", options_.lease_name}, {"identity", options_.identity}});
  const auto& callback = leader ? callbacks_.on_started_leading : callbacks_.on_stopped_leading;
  if (callback) callback();
}

void LeaderElector::release() {
  if (!is_leader()) return;
  set_leader(false);
  auto lease = api_.get(leases(), options_.ns, options_.lease_name);
  if (!lease || holder_of((*lease)["spec"]) != options_.identity) return;
  json released = *lease;
  released["spec"]["holderIdentity"] = "";
  released["spec"]["leaseDurationSeconds"] = 1;
  released["spec"]["renewTime"] = format_micro_time(std::chrono::system_clock::now());
  if (auto written = api_.update(leases(), options_.ns, released); !written) {
    log_.warn("could not release the lease", {{"error", written.error().message}});
    return;
  }
  log_.info("released the lease", {{"lease", options_.lease_name}});
}

void LeaderElector::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    name_this_thread("leader");
    while (true) {
      step();
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, options_.retry_period, [this] { return stopping_; })) break;
    }
    release();
  });
}

void LeaderElector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();  // the thread releases the lease on its way out
  } else {
    release();
  }
}

}  // namespace ballast::kube
