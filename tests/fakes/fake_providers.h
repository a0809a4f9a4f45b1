#pragma once

// Fake VPS provider APIs for the provider integration tests: VPSie API v2, Contabo
// compute v1 (with its Keycloak token endpoint) and a GitHub repository_dispatch
// endpoint, speaking the shapes of nodepool.md §4 on plain HTTP at 127.0.0.1:<free port>.
//
// Ownership and threads: the test owns a fake (usually on the stack). start() spawns an
// accept thread and one thread per connection (synchronous Beast I/O); stop(), also run
// by the destructor, closes every socket and joins every thread. Every public method is
// thread-safe. Knobs: fail_next(status, count), throttle_next(count, retry_after),
// lose_answer_next(method, path) (carried out, answer never sent), latency, VMs that never
// become running, a request log, and the VM state itself.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ballast::testing {

struct FakeProviderRequest {
  std::string method;
  std::string target;                          // path and query
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  std::string path() const { return target.substr(0, target.find('?')); }
};

struct FakeProviderResponse {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  bool lost = false;  // carried out, but the connection closes before the answer is sent
};

// A VM as the fakes store it.
struct FakeVm {
  std::string id;
  std::string name;  // VPSie hostname / Contabo displayName
  std::vector<std::string> tags;
  std::string product;  // resourceIdentifier / productId
  std::string state;    // VPSie: creating|running; Contabo: provisioning|installing|running|stopped
  std::string user_data;
  std::string cancel_date;  // Contabo only
  int reinstalls = 0;       // Contabo only
};

class FakeProviderServer {
 public:
  FakeProviderServer();
  virtual ~FakeProviderServer();
  FakeProviderServer(const FakeProviderServer&) = delete;
  FakeProviderServer& operator=(const FakeProviderServer&) = delete;

  void start();  // binds 127.0.0.1:0; throws std::runtime_error if it cannot
  void stop();   // idempotent
  uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"

  // The next `count` requests answer `status` (a JSON error body) without touching state.
  void fail_next(int status, int count = 1);
  // The next `count` requests answer 429, with `Retry-After: <seconds>` when given.
  void throttle_next(int count, std::optional<int> retry_after_seconds);
  void set_latency(std::chrono::milliseconds latency);
  // The next `count` requests of `method` whose path starts with `path_prefix` are carried
  // out (a POST creates its VM), then the connection closes without an answer: the
  // client cannot tell whether anything happened. With `then_fail`, the requests after
  // the lost one answer 503 that many times (the provider stays down a while).
  void lose_answer_next(std::string method, std::string path_prefix, int count = 1, int then_fail = 0);
  // New VMs stay "creating"/"provisioning" forever.
  void set_never_running(bool never);

  std::vector<FakeProviderRequest> requests() const;
  size_t count_requests(const std::string& method, const std::string& path_prefix) const;
  void clear_requests();
  std::vector<FakeVm> vms() const;
  void put_vm(FakeVm vm);

 protected:
  // Called with mutex_ held.
  virtual FakeProviderResponse route(const FakeProviderRequest& request) = 0;
  FakeProviderResponse answer(const FakeProviderRequest& request);

  mutable std::mutex mutex_;
  std::map<std::string, FakeVm> vms_;  // by id
  bool never_running_ = false;
  int next_id_ = 1;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// VPSie API v2: POST /v2/auth/from/api (form clientId, clientSecret → bearer), or the
// static `Vpsie-Auth` token; GET/POST/DELETE /api/v2/vm, GET /api/v2/vm/{id} (a missing
// VM is {"error":true,"code":404} with HTTP 200, as VPSie can do), GET /apps/v2/vm/pending.
// POST answers without the new identifier (as the SDK sees it). A new VM is "creating"
// and turns "running" at its next read unless never_running.
class FakeVpsie final : public FakeProviderServer {
 public:
  FakeVpsie(std::string static_token, std::string client_id, std::string client_secret, std::string password);
  ~FakeVpsie() override { stop(); }  // no connection may reach route() once this part is gone
  // Every bearer token issued so far is rejected (401) from now on.
  void revoke_tokens();
  void set_token_lifetime(std::chrono::seconds lifetime);  // "expires" in the login answer
  // The time login answers count "expires" from (default: the system clock).
  void set_wall_clock(std::function<std::chrono::system_clock::time_point()> now);
  // While on, new VMs sit only in /apps/v2/vm/pending (not in /api/v2/vm).
  void set_hold_pending(bool hold);
  void release_pending();  // moves pending VMs into the VM list
  int logins() const;

 private:
  FakeProviderResponse route(const FakeProviderRequest& request) override;
  std::string static_token_, client_id_, client_secret_, password_;
  std::map<std::string, bool> tokens_;  // token → valid
  std::chrono::seconds token_lifetime_{3600};
  std::function<std::chrono::system_clock::time_point()> wall_now_;
  bool hold_pending_ = false;
  std::vector<FakeVm> pending_;
  int logins_ = 0;
};

// Contabo: POST /auth/token (password grant form) and /v1/compute/instances with list
// (paged, `size`/`page`), get, create (201), PATCH displayName, PUT reinstall,
// actions/stop|start, cancel. Every /v1 call must carry a valid bearer and a UUID4
// x-request-id (else 401/400). New instances are "provisioning", then "running" at
// their next read unless never_running.
class FakeContabo final : public FakeProviderServer {
 public:
  FakeContabo(std::string client_id, std::string client_secret, std::string username, std::string password);
  ~FakeContabo() override { stop(); }
  void revoke_tokens();
  int tokens_issued() const;
  int page_size_cap = 100;  // the largest page the fake serves (set before start)

 private:
  FakeProviderResponse route(const FakeProviderRequest& request) override;
  std::string client_id_, client_secret_, username_, password_;
  std::map<std::string, bool> tokens_;
  int tokens_issued_ = 0;
};

// GitHub repository_dispatch: POST /repos/{owner}/{repo}/dispatches with a bearer token
// → 204; the bodies are in the request log.
class FakeDispatch final : public FakeProviderServer {
 public:
  explicit FakeDispatch(std::string token);
  ~FakeDispatch() override { stop(); }

 private:
  FakeProviderResponse route(const FakeProviderRequest& request) override;
  std::string token_;
};

}  // namespace ballast::testing
