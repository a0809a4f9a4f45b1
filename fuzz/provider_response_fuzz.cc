// A cloud provider's HTTP answers (VPSie, Contabo, the dispatch webhook), which ballast
// does not control, through the real provider code: login, list, get, create (with its
// idempotency look-ups), remove and release_idle. The input is a script:
//
//   <provider> <operation>        vpsie|contabo|dispatch  list|get|create|remove|release
//   === <status> [<retry-after>]  then the body of the answer to the next request
//   ...                           (one section per request; when they run out, the
//                                 transport fails as a dropped connection would)
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "fuzz_input.h"
#include "providers/contabo_provider.h"
#include "providers/dispatch_provider.h"
#include "providers/vpsie_provider.h"

namespace {

using namespace ballast;
using namespace std::chrono_literals;

// Time moves only when the provider sleeps (backoff, Retry-After), so no input waits.
class ScriptClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  TimePoint wall_now() const override {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(now_.time_since_epoch()));
  }
  // Nothing else runs during one input, so a wait is the scripted time reaching its deadline.
  bool wait_until(std::unique_lock<std::mutex>&, std::condition_variable&, time_point deadline,
                  const std::function<bool()>& done) const override {
    if (!done() && deadline > now_) now_ = deadline;
    return done();
  }
  void advance(std::chrono::nanoseconds step) { now_ += step; }

 private:
  mutable time_point now_{std::chrono::seconds(1'780'000'000)};  // 2026, as a wall clock too
};

struct Script {
  std::string provider;
  std::string operation;
  std::vector<net::HttpClientResponse> answers;
};

std::string_view next_line(std::string_view& text) {
  const size_t newline = text.find('\n');
  const std::string_view line = text.substr(0, newline);
  text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  return line;
}

// "=== 200" or "=== 429 7": the status, and a Retry-After header when given.
net::HttpClientResponse answer_head(std::string_view line) {
  net::HttpClientResponse answer;
  line.remove_prefix(4);
  const size_t space = line.find(' ');
  for (char c : line.substr(0, space)) {
    if (c < '0' || c > '9' || answer.status > 9999) break;
    answer.status = answer.status * 10 + (c - '0');
  }
  if (space != std::string_view::npos) answer.headers["retry-after"] = std::string(line.substr(space + 1));
  return answer;
}

Script read_script(std::string_view text) {
  Script script;
  const std::string_view head = next_line(text);
  const size_t space = head.find(' ');
  script.provider = std::string(head.substr(0, space));
  if (space != std::string_view::npos) script.operation = std::string(head.substr(space + 1));
  while (!text.empty()) {
    const std::string_view line = next_line(text);
    if (line.substr(0, 4) == "=== ") {
      script.answers.push_back(answer_head(line));
    } else if (!script.answers.empty()) {
      auto& body = script.answers.back().body;
      if (!body.empty()) body += '\n';
      body += line;
    }
  }
  return script;
}

template <typename Provider>
Result<std::unique_ptr<nodepool::NodeProvider>> as_node_provider(Result<std::unique_ptr<Provider>> made) {
  if (!made) return made.error();
  return std::unique_ptr<nodepool::NodeProvider>(std::move(*made));
}

Result<std::unique_ptr<nodepool::NodeProvider>> make_provider(const std::string& type,
                                                               const providers::ProviderContext& context) {
  if (type == "vpsie") {
    providers::VpsieSettings settings;
    settings.api_url = "https://vpsie.invalid";
    settings.datacenter = "dc";
    settings.os_identifier = "os";
    settings.client_id = "id";  // the bearer flow: its login answer is fuzzed too
    settings.client_secret = "secret";
    return as_node_provider(providers::VpsieProvider::make(settings, context));
  }
  if (type == "contabo") {
    providers::ContaboSettings settings;
    settings.api_url = "https://contabo.invalid";
    settings.auth_url = "https://auth.contabo.invalid/token";
    settings.client_id = settings.client_secret = settings.username = settings.password = "x";
    return as_node_provider(providers::ContaboProvider::make(settings, context));
  }
  if (type == "dispatch") {
    providers::DispatchSettings settings;
    settings.url = "https://dispatch.invalid/repos/o/r/dispatches";
    settings.token = "token";
    return as_node_provider(providers::DispatchProvider::make(settings, context));
  }
  return invalid_argument("unknown provider");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  set_log_level(LogLevel::kError);  // providers log every order and login at info
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Script script = read_script(fuzz::as_text(data, size));
  size_t next_answer = 0;
  ScriptClock clock;
  providers::ProviderContext context;
  context.clock = &clock;
  context.sleep = [&clock](std::chrono::nanoseconds wait) { clock.advance(wait); };
  context.wall_now = [&clock] { return clock.wall_now(); };
  context.transport = [&](const net::HttpClientRequest&) -> Result<net::HttpClientResponse> {
    if (next_answer == script.answers.size()) return unavailable("connection closed");
    return script.answers[next_answer++];
  };
  auto provider = make_provider(script.provider, context);
  if (!provider) return 0;
  nodepool::CreateRequest create{"general", "general-a1b2", "offer-1", "#cloud-config", {}, "request-1", 3};
  const std::string& op = script.operation;
  if (op == "list") (void)(*provider)->list("general");
  if (op == "get") (void)(*provider)->get("4711");
  if (op == "create") (void)(*provider)->create(create);
  if (op == "remove") (void)(*provider)->remove({"", "general-a1b2", "general", "offer-1", "running", {}}, 2);
  if (op == "release") (void)(*provider)->release_idle(context.wall_now() + std::chrono::hours(24 * 30));
  return 0;
}
