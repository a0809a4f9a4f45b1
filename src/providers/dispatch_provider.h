#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/log.h"
#include "nodepool/node_provider.h"
#include "providers/provider_http.h"

namespace ballast::providers {

struct DispatchSettings {
  std::string url;  // e.g. https://api.github.com/repos/OWNER/REPO/dispatches
  std::string event_type = "ballast-scale";  // scale-up (and scale-down unless the next is set)
  std::string token;       // the bearer token itself, or
  std::string token_file;  // a file holding it (read once, at make())
  net::TlsOptions tls;
  std::string scale_down_event_type;  // empty = event_type; the payload's `direction` tells them apart
};

// Which way a dispatch moves the group: the payload's `direction`, "up" or "down".
enum class DispatchDirection { kUp, kDown };

// Asks a pipeline (GitHub repository_dispatch, or any webhook taking the same JSON) to
// bring a group to a size: create() sends desired = request.desired_size, remove() sends
// the node to delete and the group's new size. The call is fire-and-forget (GitHub
// answers 204 without a run id), so this provider cannot see VMs: list() and get() report
// only what this object has asked for (an in-memory record of requested names, lost on
// restart). Whether a node really came or went is confirmed by the reconciler through the
// Node objects. Payloads carry the whole desired size, so repeats are harmless.
// Owned by the node-pool reconciler; thread-safe; calls block.
class DispatchProvider final : public nodepool::NodeProvider {
 public:
  static Result<std::unique_ptr<DispatchProvider>> make(DispatchSettings settings, const ProviderContext& context);

  std::string type() const override { return "dispatch"; }
  Result<nodepool::ProviderInstance> create(const nodepool::CreateRequest& request) override;
  Status remove(const nodepool::ProviderInstance& instance, int desired_size) override;
  Result<std::vector<nodepool::ProviderInstance>> list(const std::string& group) override;
  Result<nodepool::ProviderInstance> get(const std::string& id) override;

  CircuitBreaker::State breaker_state() const { return http_.breaker_state(); }

 private:
  DispatchProvider(DispatchSettings settings, std::string token, const ProviderContext& context);
  Status post(DispatchDirection direction, const std::string& group, int desired, const std::vector<std::string>& remove,
              const std::string& reason, const std::string& request_id);

  const DispatchSettings settings_;
  const std::string token_;
  WallClock wall_now_;
  ProviderHttp http_;
  Logger log_{"providers.dispatch"};
  std::mutex mutex_;
  std::map<std::string, nodepool::ProviderInstance> requested_;  // by name
};

// The JSON body sent to the dispatch URL (CONTRACT.md, plus `direction`), exposed for tests.
std::string dispatch_payload(const std::string& event_type, DispatchDirection direction, const std::string& group,
                             int desired, const std::vector<std::string>& remove, const std::string& reason,
                             const std::string& request_id);

}  // namespace ballast::providers
