#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/timestamp.h"

namespace ballast::nodepool {

// A VM as a provider reports it.
struct ProviderInstance {
  std::string id;    // the provider's id (VPSie identifier, Contabo instanceId, dispatch: the node name)
  std::string name;  // the deterministic name ballast gave it; also the Kubernetes Node name
  std::string group;
  std::string offering;
  // "creating", "running", "stopped" (Contabo parked), "deleting", "error", "unknown"
  std::string state;
  std::optional<TimePoint> created_at;
};

// What the node-pool reconciler asks for. `name` is deterministic (group + request id), so
// a create repeated after a leader change finds the first one instead of ordering twice.
struct CreateRequest {
  std::string group;
  std::string name;
  std::string offering;
  std::string user_data;  // cloud-init that joins K3s and sets the node's labels
  std::map<std::string, std::string> labels;  // Kubernetes labels the node must carry
  std::string request_id;                     // a UUID, sent as the provider's idempotency / request id
  int desired_size = 0;                       // the whole group's target (dispatch sends it)
};

// One cloud (or pipeline) behind the node-pool reconciler. Calls block; the reconciler
// makes them from its own thread. Implementations retry with backoff, honour 429 with a
// rate limiter, open a circuit breaker after repeated failures (kUnavailable while open)
// and are idempotent: create() of a name that exists returns that instance; remove() of
// a missing instance succeeds. Thread-safe.
class NodeProvider {
 public:
  virtual ~NodeProvider() = default;

  virtual std::string type() const = 0;  // "vpsie", "contabo", "dispatch"
  virtual Result<ProviderInstance> create(const CreateRequest& request) = 0;
  // Deletes (or, for providers that bill by the month, parks) the instance: the one with
  // `id`, or with an empty id the group's instance named `name`. `desired_size` is the
  // group's size after the removal (dispatch sends it).
  virtual Status remove(const ProviderInstance& instance, int desired_size) = 0;
  // The group's instances, found by the tag/name ballast gave them.
  virtual Result<std::vector<ProviderInstance>> list(const std::string& group) = 0;
  virtual Result<ProviderInstance> get(const std::string& id) = 0;
  // Gives back what the provider holds idle past its limit (Contabo: instances parked
  // longer than cancelParkedAfter are cancelled); returns the ids released. Called by
  // the leader once a pass; nothing to do for providers that delete outright.
  virtual Result<std::vector<std::string>> release_idle(TimePoint /*now*/) { return std::vector<std::string>{}; }
};

}  // namespace ballast::nodepool
