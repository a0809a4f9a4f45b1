#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/log.h"
#include "nodepool/node_provider.h"
#include "providers/provider_http.h"

namespace ballast::providers {

struct ContaboSettings {
  std::string api_url = "https://api.contabo.com";
  std::string auth_url = "https://auth.contabo.com/auth/realms/contabo/protocol/openid-connect/token";
  // OAuth2 password grant carrying the client credentials (nodepool.md §4.2).
  std::string client_id, client_secret, username, password;
  std::string region = "EU";
  std::string image_id;  // empty → Contabo's default image
  int period = 1;        // contract months: 1, 3, 6 or 12
  std::string default_user = "root";
  // A parked (stopped) instance nobody reused for this long is cancelled by
  // cancel_idle_parked(). Contracts are monthly: keep it under a term.
  std::chrono::seconds cancel_parked_after{std::chrono::hours(24 * 7)};
  net::TlsOptions tls;
};

// Contabo compute API v1. Contabo has no DELETE and bills by the month, so remove()
// parks: it renames the instance to "ballast-parked.<group>.<unix seconds>" (the state
// lives in Contabo, so any replica reads it back) and stops it. create() lists first and
// returns an instance whose displayName is already the name; otherwise it reuses a parked,
// uncancelled instance of the group with the same product (rename, then reinstall with the
// new user-data), and only then orders a new one. cancel_idle_parked(now) cancels
// instances parked longer than `cancel_parked_after`. Names must start with "<group>-";
// list(group) reports the group's live instances (parked ones are not nodes and are left
// out; get() of a parked id says "stopped"). Every call carries a fresh `x-request-id`
// (the create order carries the request's id).
// Owned by the node-pool reconciler; thread-safe; calls block.
class ContaboProvider final : public nodepool::NodeProvider {
 public:
  static Result<std::unique_ptr<ContaboProvider>> make(ContaboSettings settings, const ProviderContext& context);

  std::string type() const override { return "contabo"; }
  Result<nodepool::ProviderInstance> create(const nodepool::CreateRequest& request) override;
  Status remove(const nodepool::ProviderInstance& instance, int desired_size) override;
  Result<std::vector<nodepool::ProviderInstance>> list(const std::string& group) override;
  Result<nodepool::ProviderInstance> get(const std::string& id) override;

  // Parked instances of any group, cancelled or not (for tests and status).
  Result<std::vector<nodepool::ProviderInstance>> parked();
  // Cancels every parked instance idle past `cancel_parked_after` at `now`; returns their ids.
  Result<std::vector<std::string>> cancel_idle_parked(TimePoint now);
  Result<std::vector<std::string>> release_idle(TimePoint now) override { return cancel_idle_parked(now); }

  CircuitBreaker::State breaker_state() const { return http_.breaker_state(); }
  static std::string parked_name(const std::string& group, TimePoint parked_at);

  struct Record;  // one instance as listed

 private:
  struct Answer {
    int status = 0;
    std::string body;
  };
  ContaboProvider(ContaboSettings settings, const ProviderContext& context);
  Result<TokenCache::Token> login(TimePoint now);  // password grant → bearer
  Result<Answer> call(const std::string& method, const std::string& path, const std::string& body,
                      const std::string& request_id = {}, Resend resend = Resend::kWhenFailed);
  // The group's live (not parked) instance of this display name, if any.
  Result<std::optional<Record>> find_named(const std::string& display_name);
  Result<std::vector<Record>> list_records();
  Result<Record> get_record(const std::string& id);
  Status rename(const std::string& id, const std::string& display_name);

  const ContaboSettings settings_;
  WallClock wall_now_;
  ProviderHttp http_;
  Logger log_{"providers.contabo"};
  TokenCache bearer_;
};

}  // namespace ballast::providers
