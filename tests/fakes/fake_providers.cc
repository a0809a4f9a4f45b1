#include "fakes/fake_providers.h"

#include <algorithm>
#include <ctime>
#include <functional>
#include <regex>
#include <stdexcept>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "fakes/loopback_server.h"

namespace ballast::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string url_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_form(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find('&', start), text.size());
    const auto pair = text.substr(start, end - start);
    const auto eq = pair.find('=');
    if (!pair.empty()) out[url_decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

std::string query_param(const std::string& target, const std::string& key) {
  const auto q = target.find('?');
  if (q == std::string::npos) return {};
  const auto form = parse_form(target.substr(q + 1));
  const auto it = form.find(key);
  return it == form.end() ? std::string() : it->second;
}

FakeProviderResponse json_response(int status, const json& body) { return {status, {}, body.dump()}; }

std::string header(const FakeProviderRequest& request, const std::string& name) {
  const auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

// ---------------- the server core ----------------

// One connection's keep-alive HTTP/1.1 exchange: each request is answered by `answer`.
void serve_http(tcp::socket& socket, const std::function<FakeProviderResponse(const FakeProviderRequest&)>& answer) {
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(8 << 20);
    beast::error_code read_ec;
    http::read(socket, buffer, parser, read_ec);
    if (read_ec) return;
    auto message = parser.release();
    FakeProviderRequest request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    for (const auto& field : message) request.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    request.body = message.body();
    const auto response = answer(request);
    if (response.lost) return;
    http::response<http::string_body> out{static_cast<http::status>(response.status), 11};
    out.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : response.headers) out.set(name, value);
    out.body() = response.body;
    out.keep_alive(message.keep_alive());
    out.prepare_payload();
    beast::error_code write_ec;
    http::write(socket, out, write_ec);
    if (write_ec || !message.keep_alive()) return;
  }
}

}  // namespace

struct FakeProviderServer::Impl {
  explicit Impl(FakeProviderServer& owner)
      : server("fake provider", [&owner](tcp::socket& socket) {
          serve_http(socket, [&owner](const FakeProviderRequest& request) { return owner.answer(request); });
          return false;
        }) {}

  LoopbackServer server;
  // Knobs and log, guarded by the owner's mutex_.
  int fail_status = 0;
  int fail_count = 0;
  int throttle_count = 0;
  std::optional<int> retry_after;
  std::chrono::milliseconds latency{0};
  std::string lose_method;
  std::string lose_prefix;
  int lose_count = 0;
  int fail_after_lost = 0;  // 503s answered after a lost answer
  std::vector<FakeProviderRequest> log;
};

FakeProviderServer::FakeProviderServer() : impl_(std::make_unique<Impl>(*this)) {}
FakeProviderServer::~FakeProviderServer() { stop(); }

void FakeProviderServer::start() { impl_->server.start(); }
void FakeProviderServer::stop() { impl_->server.stop(); }

uint16_t FakeProviderServer::port() const { return impl_->server.port(); }
std::string FakeProviderServer::url() const { return "http://127.0.0.1:" + std::to_string(port()); }

FakeProviderResponse FakeProviderServer::answer(const FakeProviderRequest& request) {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard lock(mutex_);
    delay = impl_->latency;
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  std::lock_guard lock(mutex_);
  impl_->log.push_back(request);
  if (impl_->throttle_count > 0) {
    --impl_->throttle_count;
    FakeProviderResponse response = json_response(429, {{"error", true}, {"code", 429}, {"message", "Too Many Requests"}});
    if (impl_->retry_after) response.headers["Retry-After"] = std::to_string(*impl_->retry_after);
    return response;
  }
  if (impl_->fail_count > 0) {
    --impl_->fail_count;
    return json_response(impl_->fail_status, {{"error", true}, {"code", impl_->fail_status}, {"message", "injected"}});
  }
  FakeProviderResponse response = route(request);
  if (impl_->lose_count > 0 && request.method == impl_->lose_method && request.path().rfind(impl_->lose_prefix, 0) == 0) {
    --impl_->lose_count;
    response.lost = true;
    if (impl_->fail_after_lost > 0) {
      impl_->fail_status = 503;
      impl_->fail_count = impl_->fail_after_lost;
    }
  }
  return response;
}

void FakeProviderServer::lose_answer_next(std::string method, std::string path_prefix, int count, int then_fail) {
  std::lock_guard lock(mutex_);
  impl_->lose_method = std::move(method);
  impl_->lose_prefix = std::move(path_prefix);
  impl_->lose_count = count;
  impl_->fail_after_lost = then_fail;
}

void FakeProviderServer::fail_next(int status, int count) {
  std::lock_guard lock(mutex_);
  impl_->fail_status = status;
  impl_->fail_count = count;
}

void FakeProviderServer::throttle_next(int count, std::optional<int> retry_after_seconds) {
  std::lock_guard lock(mutex_);
  impl_->throttle_count = count;
  impl_->retry_after = retry_after_seconds;
}

void FakeProviderServer::set_latency(std::chrono::milliseconds latency) {
  std::lock_guard lock(mutex_);
  impl_->latency = latency;
}

void FakeProviderServer::set_never_running(bool never) {
  std::lock_guard lock(mutex_);
  never_running_ = never;
}

std::vector<FakeProviderRequest> FakeProviderServer::requests() const {
  std::lock_guard lock(mutex_);
  return impl_->log;
}

size_t FakeProviderServer::count_requests(const std::string& method, const std::string& path_prefix) const {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(impl_->log.begin(), impl_->log.end(), [&](const FakeProviderRequest& r) {
    return (method.empty() || r.method == method) && r.path().rfind(path_prefix, 0) == 0;
  }));
}

void FakeProviderServer::clear_requests() {
  std::lock_guard lock(mutex_);
  impl_->log.clear();
}

std::vector<FakeVm> FakeProviderServer::vms() const {
  std::lock_guard lock(mutex_);
  std::vector<FakeVm> out;
  for (const auto& [id, vm] : vms_) out.push_back(vm);
  return out;
}

void FakeProviderServer::put_vm(FakeVm vm) {
  std::lock_guard lock(mutex_);
  if (vm.id.empty()) vm.id = std::to_string(next_id_++);
  vms_[vm.id] = std::move(vm);
}

// ---------------- VPSie ----------------

FakeVpsie::FakeVpsie(std::string static_token, std::string client_id, std::string client_secret, std::string password)
    : static_token_(std::move(static_token)),
      client_id_(std::move(client_id)),
      client_secret_(std::move(client_secret)),
      password_(std::move(password)) {}

void FakeVpsie::revoke_tokens() {
  std::lock_guard lock(mutex_);
  for (auto& [token, valid] : tokens_) valid = false;
}

void FakeVpsie::set_token_lifetime(std::chrono::seconds lifetime) {
  std::lock_guard lock(mutex_);
  token_lifetime_ = lifetime;
}

void FakeVpsie::set_wall_clock(std::function<std::chrono::system_clock::time_point()> now) {
  std::lock_guard lock(mutex_);
  wall_now_ = std::move(now);
}

void FakeVpsie::set_hold_pending(bool hold) {
  std::lock_guard lock(mutex_);
  hold_pending_ = hold;
}

void FakeVpsie::release_pending() {
  std::lock_guard lock(mutex_);
  for (auto& vm : pending_) vms_[vm.id] = vm;
  pending_.clear();
}

int FakeVpsie::logins() const {
  std::lock_guard lock(mutex_);
  return logins_;
}

FakeProviderResponse FakeVpsie::route(const FakeProviderRequest& request) {
  const auto error = [](int code, const std::string& message, int http_status = 200) {
    return json_response(http_status, {{"error", true}, {"code", code}, {"message", message}});
  };
  const std::string path = request.path();
  if (request.method == "POST" && path == "/v2/auth/from/api") {
    const auto form = parse_form(request.body);
    if (form.count("clientId") == 0 || form.at("clientId") != client_id_ || form.count("clientSecret") == 0 ||
        form.at("clientSecret") != client_secret_) {
      return error(401, "invalid client credentials", 401);
    }
    ++logins_;
    const std::string token = "vpsie-token-" + std::to_string(logins_);
    tokens_[token] = true;
    const auto expires = (wall_now_ ? wall_now_() : std::chrono::system_clock::now()) + token_lifetime_;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count();
    const std::time_t t = static_cast<std::time_t>(seconds);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return json_response(200, {{"accessToken", {{"token", token}, {"expires", text}}},
                               {"refreshToken", {{"token", "refresh-" + token}, {"expires", text}}},
                               {"error", false}});
  }
  // Authentication: the static token, or a valid bearer.
  const std::string static_header = header(request, "vpsie-auth");
  const std::string authorization = header(request, "authorization");
  bool authed = !static_token_.empty() && static_header == static_token_;
  if (authorization.rfind("Bearer ", 0) == 0) {
    const auto it = tokens_.find(authorization.substr(7));
    authed = authed || (it != tokens_.end() && it->second);
  }
  if (!authed) return error(401, "Unauthorized", 401);

  const auto vm_json = [](const FakeVm& vm) {
    return json{{"identifier", vm.id}, {"hostname", vm.name}, {"tags", vm.tags},
                {"resourceIdentifier", vm.product}, {"state", vm.state}, {"is_deleted", 0},
                {"created_on", "2026-01-02T03:04:05Z"}};
  };
  const auto advance = [&](FakeVm& vm) {
    const json shown = vm_json(vm);
    if (!never_running_ && vm.state == "creating") vm.state = "running";
    return shown;
  };
  if (request.method == "GET" && path == "/api/v2/vm") {
    json data = json::array();
    for (auto& [id, vm] : vms_) data.push_back(advance(vm));
    return json_response(200, {{"error", false}, {"data", data}, {"total", data.size()}});
  }
  if (request.method == "GET" && path == "/apps/v2/vm/pending") {
    json data = json::array();
    for (const auto& vm : pending_) {
      data.push_back({{"hostname", vm.name}, {"processId", 1}, {"resourceIdentifier", vm.product}});
    }
    return json_response(200, {{"error", false}, {"data", data}});
  }
  if (request.method == "GET" && path.rfind("/api/v2/vm/", 0) == 0) {
    const auto it = vms_.find(path.substr(std::string("/api/v2/vm/").size()));
    if (it == vms_.end()) return error(404, "VM not found");  // HTTP 200, error envelope
    return json_response(200, {{"error", false}, {"data", {{"vmData", advance(it->second)}}}});
  }
  if (request.method == "POST" && path == "/api/v2/vm") {
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("hostname") || !body.contains("resourceIdentifier") ||
        !body.contains("osIdentifier") || !body.contains("dcIdentifier")) {
      return error(400, "missing fields", 400);
    }
    FakeVm vm;
    vm.id = "vm-" + std::to_string(next_id_++);
    vm.name = body.value("hostname", "");
    vm.product = body.value("resourceIdentifier", "");
    vm.user_data = body.value("userData", "");
    if (body.contains("tags") && body["tags"].is_array()) {
      for (const auto& tag : body["tags"]) {
        if (tag.is_string()) vm.tags.push_back(tag.get<std::string>());
      }
    }
    vm.state = "creating";
    if (hold_pending_) {
      pending_.push_back(vm);
    } else {
      vms_[vm.id] = vm;
    }
    return json_response(200, {{"error", false}, {"data", json::object()}});
  }
  if (request.method == "DELETE" && path == "/api/v2/vm") {
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object() || body.value("password", "") != password_) return error(403, "wrong password");
    const auto it = vms_.find(body.value("vmIdentifier", ""));
    if (it == vms_.end()) return error(404, "VM not found");
    vms_.erase(it);
    return json_response(200, {{"error", false}, {"data", json::object()}});
  }
  return error(404, "no route " + request.method + " " + path, 404);
}

// ---------------- Contabo ----------------

FakeContabo::FakeContabo(std::string client_id, std::string client_secret, std::string username, std::string password)
    : client_id_(std::move(client_id)),
      client_secret_(std::move(client_secret)),
      username_(std::move(username)),
      password_(std::move(password)) {}

void FakeContabo::revoke_tokens() {
  std::lock_guard lock(mutex_);
  for (auto& [token, valid] : tokens_) valid = false;
}

int FakeContabo::tokens_issued() const {
  std::lock_guard lock(mutex_);
  return tokens_issued_;
}

FakeProviderResponse FakeContabo::route(const FakeProviderRequest& request) {
  const auto error = [](int status, const std::string& message) {
    return json_response(status, {{"statusCode", status}, {"message", message}});
  };
  const std::string path = request.path();
  if (request.method == "POST" && path == "/auth/realms/contabo/protocol/openid-connect/token") {
    auto form = parse_form(request.body);
    if (form["grant_type"] != "password" || form["client_id"] != client_id_ || form["client_secret"] != client_secret_ ||
        form["username"] != username_ || form["password"] != password_) {
      return json_response(401, {{"error", "invalid_grant"}, {"error_description", "Invalid user credentials"}});
    }
    const std::string token = "contabo-token-" + std::to_string(++tokens_issued_);
    tokens_[token] = true;
    return json_response(200, {{"access_token", token}, {"expires_in", 300}, {"token_type", "Bearer"}});
  }
  const std::string authorization = header(request, "authorization");
  const auto token = tokens_.find(authorization.rfind("Bearer ", 0) == 0 ? authorization.substr(7) : "");
  if (token == tokens_.end() || !token->second) return error(401, "Unauthorized");
  static const std::regex kUuid(
      "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-5][0-9A-Fa-f]{3}-[089abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$");
  if (!std::regex_match(header(request, "x-request-id"), kUuid)) return error(400, "x-request-id must be a UUID4");

  const auto instance_json = [](const FakeVm& vm) {
    return json{{"tenantId", "DE"},  {"customerId", "12345"},   {"instanceId", std::stoll(vm.id)},
                {"name", "vmi" + vm.id}, {"displayName", vm.name}, {"productId", vm.product},
                {"status", vm.state}, {"cancelDate", vm.cancel_date}, {"region", "EU"},
                {"createdDate", "2026-01-02T03:04:05.000Z"}};
  };
  const auto advance = [&](FakeVm& vm) {
    const json shown = instance_json(vm);
    if (!never_running_ && (vm.state == "provisioning" || vm.state == "installing")) vm.state = "running";
    return shown;
  };
  const std::string base = "/v1/compute/instances";
  if (request.method == "GET" && path == base) {
    int size = 10;
    int page = 1;
    if (auto s = query_param(request.target, "size"); !s.empty()) size = std::stoi(s);
    if (auto p = query_param(request.target, "page"); !p.empty()) page = std::stoi(p);
    size = std::max(1, std::min(size, page_size_cap));
    std::vector<FakeVm*> all;
    for (auto& [id, vm] : vms_) all.push_back(&vm);
    const int total = static_cast<int>(all.size());
    const int pages = std::max(1, (total + size - 1) / size);
    json data = json::array();
    for (int i = (page - 1) * size; i < std::min(total, page * size); ++i) data.push_back(advance(*all[i]));
    return json_response(200, {{"data", data},
                               {"_pagination", {{"size", size}, {"totalElements", total}, {"totalPages", pages}, {"page", page}}},
                               {"_links", {{"self", path}}}});
  }
  if (request.method == "POST" && path == base) {
    const json body = json::parse(request.body, nullptr, false);
    if (!body.is_object() || !body.contains("period")) return error(400, "period is required");
    FakeVm vm;
    vm.id = std::to_string(100000 + next_id_++);
    vm.name = body.value("displayName", "");
    vm.product = body.value("productId", "V92");
    vm.user_data = body.value("userData", "");
    vm.state = "provisioning";
    vms_[vm.id] = vm;
    return json_response(201, {{"data", json::array({{{"tenantId", "DE"}, {"customerId", "12345"},
                                                      {"instanceId", std::stoll(vm.id)}, {"productId", vm.product},
                                                      {"status", vm.state}, {"region", "EU"},
                                                      {"createdDate", "2026-01-02T03:04:05.000Z"}}})},
                               {"_links", {{"self", path}}}});
  }
  if (path.rfind(base + "/", 0) != 0) return error(404, "no route " + path);
  std::string rest = path.substr(base.size() + 1);
  const auto slash = rest.find('/');
  const std::string id = rest.substr(0, slash);
  const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
  const auto it = vms_.find(id);
  if (it == vms_.end()) return error(404, "Entry Instances not found by instanceId: " + id);
  FakeVm& vm = it->second;
  const json body = json::parse(request.body.empty() ? "{}" : request.body, nullptr, false);
  if (action.empty() && request.method == "GET") return json_response(200, {{"data", json::array({advance(vm)})}});
  if (action.empty() && request.method == "PATCH") {
    if (!body.is_object() || !body.contains("displayName")) return error(400, "displayName required");
    vm.name = body.value("displayName", "");
    return json_response(200, {{"data", json::array({instance_json(vm)})}});
  }
  if (action.empty() && request.method == "PUT") {
    if (!vm.cancel_date.empty()) return error(409, "instance is cancelled");
    vm.user_data = body.is_object() ? body.value("userData", "") : "";
    vm.state = "installing";
    ++vm.reinstalls;
    return json_response(200, {{"data", json::array({instance_json(vm)})}});
  }
  if (request.method == "POST" && action == "actions/stop") {
    if (vm.state == "stopped") return error(409, "instance already stopped");
    vm.state = "stopped";
    return json_response(201, {{"data", json::array({{{"instanceId", std::stoll(vm.id)}, {"action", "stop"}}})}});
  }
  if (request.method == "POST" && action == "actions/start") {
    vm.state = "running";
    return json_response(201, {{"data", json::array({{{"instanceId", std::stoll(vm.id)}, {"action", "start"}}})}});
  }
  if (request.method == "POST" && action == "cancel") {
    vm.cancel_date = "2026-02-01";
    return json_response(201, {{"data", json::array({{{"instanceId", std::stoll(vm.id)}, {"cancelDate", vm.cancel_date}}})}});
  }
  return error(404, "no route " + request.method + " " + path);
}

// ---------------- dispatch ----------------

FakeDispatch::FakeDispatch(std::string token) : token_(std::move(token)) {}

FakeProviderResponse FakeDispatch::route(const FakeProviderRequest& request) {
  if (request.method != "POST" || request.path().find("/dispatches") == std::string::npos) {
    return json_response(404, {{"message", "Not Found"}});
  }
  if (header(request, "authorization") != "Bearer " + token_) return json_response(401, {{"message", "Bad credentials"}});
  const json body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("event_type")) {
    return json_response(422, {{"message", "Invalid request: event_type is required"}});
  }
  return {204, {}, ""};
}

}  // namespace ballast::testing
