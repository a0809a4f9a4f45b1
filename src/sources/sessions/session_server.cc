#include "sources/sessions/session_server.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/log.h"
#include "net/bearer_auth.h"
#include "net/connection_set.h"
#include "net/io_pool.h"
#include "net/listener.h"
#include "sources/sessions/frame.h"
#include "sources/sessions/peer_upgrade.h"
#include "sources/sessions/session_registry.h"

namespace ballast::sessions {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

// Bounds the upgrade request, the WebSocket handshake and the closing handshake.
constexpr std::chrono::seconds kHandshakeTimeout{5};
// How long stop() waits for open connections to finish their closing handshake: longer
// than that handshake may take, so only a wedged connection outlasts it.
constexpr std::chrono::seconds kDrainTimeout = kHandshakeTimeout + std::chrono::seconds(1);
constexpr std::chrono::seconds kRefreshPeriod{1};
constexpr size_t kMaxInvalidInARow = 10;
constexpr uint32_t kMaxUpgradeHeaderBytes = 8192;
constexpr uint64_t kMaxUpgradeBodyBytes = 1024;
// Error frames waiting for a publisher that does not read; beyond this they are dropped.
constexpr size_t kMaxQueuedFrames = 16;

enum class Verdict { kUpgrade, kPeer, kNotFound, kUnauthorized, kBadPublisher };

struct UpgradeCheck {
  Verdict verdict;
  size_t token = 0;  // kUpgrade: index of the accepted token presented (0 when insecure)
};

bool valid_publisher_id(std::string_view id) {
  if (id.size() > kMaxPublisherIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 127; });
}

// The upgrade decision, apart from the session that carries it.
UpgradeCheck check_upgrade(std::string_view target, std::string_view authorization, std::string_view publisher,
                           const SessionServerOptions& options) {
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == kPeersPath && options.on_peer) {
    const bool accepted = options.insecure || net::accepted_bearer_token(authorization, options.peer_tokens).has_value();
    return {accepted ? Verdict::kPeer : Verdict::kUnauthorized};
  }
  if (path != kSessionsPath) return {Verdict::kNotFound};
  size_t token = 0;
  if (!options.insecure) {
    const auto accepted = net::accepted_bearer_token(authorization, options.tokens);
    if (!accepted) return {Verdict::kUnauthorized};
    token = *accepted;
  }
  return {valid_publisher_id(publisher) ? Verdict::kUpgrade : Verdict::kBadPublisher, token};
}

class Session;

// Shared by the server, its listener, its refresh timer and every connection, so it lives
// until the last handler that needs it has run.
struct ServerState {
  ServerState(SessionServerOptions server_options, SessionRegistry& session_registry, MetricsRegistry& metrics,
              asio::io_context& context)
      : options(std::move(server_options)),
        registry(session_registry),
        rejected_unauthorized(metrics.counter("ballast_sessions_rejected_upgrades_total",
                                              "Publisher upgrade requests refused before the WebSocket handshake.",
                                              {{"reason", "unauthorized"}})),
        rejected_not_found(metrics.counter("ballast_sessions_rejected_upgrades_total",
                                           "Publisher upgrade requests refused before the WebSocket handshake.",
                                           {{"reason", "not_found"}})),
        rejected_token_full(metrics.counter("ballast_sessions_rejected_upgrades_total",
                                            "Publisher upgrade requests refused before the WebSocket handshake.",
                                            {{"reason", "token_connection_limit"}})),
        refresh_timer(asio::make_strand(context)) {}

  const SessionServerOptions options;
  SessionRegistry& registry;
  Counter& rejected_unauthorized;
  Counter& rejected_not_found;
  Counter& rejected_token_full;
  Logger log{"sessions"};
  asio::steady_timer refresh_timer;  // runs on its own strand
  net::ConnectionSet<Session> sessions;

  std::mutex token_mutex;  // guards `connections_by_token`
  std::unordered_map<size_t, size_t> connections_by_token;  // open upgraded publishers; no zeros

  // Takes a place for one more connection of the token; false at the cap.
  bool take_token_place(size_t token) {
    std::lock_guard lock(token_mutex);
    size_t& open = connections_by_token[token];
    if (open >= options.max_connections_per_token) return false;
    ++open;
    return true;
  }
  void release_token_place(size_t token) {
    std::lock_guard lock(token_mutex);
    if (--connections_by_token[token] == 0) connections_by_token.erase(token);
  }
};

void schedule_refresh(const std::shared_ptr<ServerState>& state) {
  state->refresh_timer.expires_after(kRefreshPeriod);
  state->refresh_timer.async_wait([state](beast::error_code ec) {
    if (ec || state->sessions.closing()) return;
    state->registry.refresh();
    schedule_refresh(state);
  });
}

// One publisher connection, from the HTTP upgrade request to the end of the WebSocket.
// Every member is touched only on the socket's strand: start() and shut_down() are
// dispatched there, the rest are completion handlers.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, net::ConnectionSlot slot, std::shared_ptr<ServerState> state)
      : state_(std::move(state)), ws_(std::move(socket)), timer_(ws_.get_executor()), slot_(std::move(slot)) {}

  ~Session() {
    if (token_) state_->release_token_place(*token_);
    state_->sessions.leave(this);
  }

  asio::any_io_executor executor() { return ws_.get_executor(); }

  void start() {
    if (!state_->sessions.join(shared_from_this())) return end({});
    parser_.emplace();
    parser_->header_limit(kMaxUpgradeHeaderBytes);
    parser_->body_limit(kMaxUpgradeBodyBytes);
    beast::get_lowest_layer(ws_).expires_after(kHandshakeTimeout);
    http::async_read(ws_.next_layer(), buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_request(ec); });
  }

  void shut_down() {
    if (phase_ == Phase::kUpgrade) return end({});
    // The series go at once: nothing may count them once the server has stopped.
    release_connection();
    begin_close({websocket::close_code::going_away, "server shutting down"}, /*drop_queued=*/true);
  }

 private:
  enum class Phase { kUpgrade, kOpen, kClosing, kDone };

  void on_request(beast::error_code ec) {
    if (ec == http::error::header_limit && phase_ == Phase::kUpgrade) {
      return reject(http::status::request_header_fields_too_large,
                    "request headers larger than " + std::to_string(kMaxUpgradeHeaderBytes) + " bytes");
    }
    if (ec || phase_ != Phase::kUpgrade) return end(ec);
    const auto& request = parser_->get();
    const std::string_view publisher = request[kPublisherHeader];
    const UpgradeCheck check =
        check_upgrade(request.target(), request[http::field::authorization], publisher, state_->options);
    switch (check.verdict) {
      case Verdict::kPeer:
        return hand_to_peers();
      case Verdict::kBadPublisher:
        return reject(http::status::bad_request, std::string(kPublisherHeader) + " must be at most " +
                                                     std::to_string(kMaxPublisherIdBytes) +
                                                     " visible ASCII characters");
      case Verdict::kNotFound:
        state_->rejected_not_found.increment();
        return reject(http::status::not_found, "not found; publishers connect to " + std::string(kSessionsPath));
      case Verdict::kUnauthorized:
        state_->rejected_unauthorized.increment();
        return reject(http::status::unauthorized, "missing or unknown bearer token");
      case Verdict::kUpgrade:
        break;
    }
    if (!state_->take_token_place(check.token)) {
      state_->rejected_token_full.increment();
      return reject(http::status::too_many_requests,
                    "this token already has " + std::to_string(state_->options.max_connections_per_token) +
                        " open connections, the most allowed (--sessions-max-connections-per-token)");
    }
    token_ = check.token;
    publisher_ = publisher;
    // From here on the WebSocket layer keeps time, and an idle_timeout of its own would
    // not count pings (Beast 1.74 restarts its idle timer only when a new read begins),
    // so silence is measured by timer_ instead.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{kHandshakeTimeout, websocket::stream_base::none(), false});
    ws_.read_message_max(state_->options.max_frame_bytes);
    ws_.control_callback([this](websocket::frame_type kind, std::string_view) {
      if (kind != websocket::frame_type::close) last_heard_ = std::chrono::steady_clock::now();
    });
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  // The peer component owns the connection from here; this session only ends.
  void hand_to_peers() {
    phase_ = Phase::kDone;
    timer_.cancel();
    beast::get_lowest_layer(ws_).expires_never();
    state_->options.on_peer(PeerUpgrade{std::move(ws_.next_layer()), parser_->release(), std::move(buffer_)});
  }

  void reject(http::status status, std::string body) {
    // A request cut short by a limit may not have a version yet.
    const unsigned version = parser_->get().version() == 10 ? 10 : 11;
    auto response = std::make_shared<http::response<http::string_body>>(status, version);
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    if (status == http::status::unauthorized) response->set(http::field::www_authenticate, "Bearer");
    response->body() = std::move(body) + "\n";
    response->keep_alive(false);
    response->prepare_payload();
    state_->log.debug("refused an upgrade", {{"status", static_cast<int>(status)}});
    http::async_write(ws_.next_layer(), *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        beast::error_code ignored;
                        self->ws_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
                        self->end(ec);
                      });
  }

  void on_accept(beast::error_code ec) {
    if (ec || phase_ != Phase::kUpgrade) return end(ec);
    phase_ = Phase::kOpen;
    parser_.reset();
    buffer_.consume(buffer_.size());
    connection_ = state_->registry.open_connection(publisher_, *token_);
    ws_.text(true);
    last_heard_ = std::chrono::steady_clock::now();
    state_->log.debug("publisher connected", {{"connection", connection_}});
    arm_timer(last_heard_ + state_->options.idle_timeout);
    read_frame();
  }

  void read_frame() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_frame(ec); });
  }

  void on_frame(beast::error_code ec) {
    if (ec) return end(ec);
    last_heard_ = std::chrono::steady_clock::now();
    if (phase_ == Phase::kOpen) {
      if (ws_.got_text()) {
        handle_text(beast::buffers_to_string(buffer_.data()));
      } else {
        state_->registry.count_invalid_frame();
        reject_frame("binary frames are not supported; send JSON text frames");
      }
    }
    // While closing, frames are read and dropped until the publisher's close frame arrives.
    buffer_.consume(buffer_.size());
    read_frame();
  }

  void handle_text(const std::string& text) {
    auto frame = parse_frame(text);
    if (!frame) {
      state_->registry.count_invalid_frame();
      return reject_frame(frame.error().message);
    }
    // apply() counts its own outcomes, valid or not.
    if (auto applied = state_->registry.apply(connection_, *frame); !applied) {
      return reject_frame(applied.error().message);
    }
    invalid_in_a_row_ = 0;
  }

  void reject_frame(const std::string& message) {
    ++invalid_in_a_row_;
    // `replace` because the message may quote publisher text, and dump() must never throw.
    queue(nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (invalid_in_a_row_ >= kMaxInvalidInARow) {
      begin_close({websocket::close_code::policy_error, "too many invalid frames in a row"}, /*drop_queued=*/false);
    }
  }

  void queue(std::string text) {
    // A publisher that never reads its errors must not grow this queue without bound.
    if (outbox_.size() >= kMaxQueuedFrames) return;
    outbox_.push_back(std::move(text));
    write_next();
  }

  // One write at a time: queued text frames first, then the close frame if one is pending.
  void write_next() {
    if (writing_) return;
    if (!outbox_.empty()) {
      writing_ = true;
      ws_.async_write(asio::buffer(outbox_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
        self->writing_ = false;
        self->outbox_.pop_front();
        if (ec) return self->outbox_.clear();
        self->write_next();
      });
      return;
    }
    if (pending_close_ && !close_sent_) {
      close_sent_ = true;
      writing_ = true;
      ws_.async_close(*pending_close_, [self = shared_from_this()](beast::error_code) { self->writing_ = false; });
    }
  }

  void begin_close(websocket::close_reason reason, bool drop_queued) {
    if (phase_ != Phase::kOpen) return;
    phase_ = Phase::kClosing;
    if (drop_queued) outbox_.erase(writing_ && !outbox_.empty() ? outbox_.begin() + 1 : outbox_.begin(), outbox_.end());
    pending_close_ = std::move(reason);
    // Beast bounds the closing handshake only once the close frame is on its way; this
    // also bounds the wait for a write stuck behind a publisher that stopped reading.
    close_deadline_ = std::chrono::steady_clock::now() + kHandshakeTimeout;
    arm_timer(close_deadline_);
    write_next();
  }

  void arm_timer(SteadyTime deadline) {
    timer_.expires_at(deadline);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) { self->on_timer(ec); });
  }

  // Deadlines are re-checked here rather than trusted to the wake-up, because a wait can
  // complete just before it is re-armed.
  void on_timer(beast::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    const auto now = std::chrono::steady_clock::now();
    if (phase_ == Phase::kOpen) {
      const auto deadline = last_heard_ + state_->options.idle_timeout;
      if (now < deadline) return arm_timer(deadline);
      // The contribution goes now, not after the closing handshake with a silent peer.
      release_connection();
      begin_close({websocket::close_code::going_away, "idle timeout"}, /*drop_queued=*/true);
    } else if (phase_ == Phase::kClosing) {
      if (now < close_deadline_) return arm_timer(close_deadline_);
      beast::get_lowest_layer(ws_).close();
    }
  }

  void release_connection() {
    if (connection_ == 0) return;
    state_->registry.close_connection(connection_);
    state_->log.debug("publisher disconnected", {{"connection", connection_}});
    connection_ = 0;
  }

  void end(beast::error_code ec) {
    if (phase_ == Phase::kDone) return;
    phase_ = Phase::kDone;
    release_connection();
    if (token_) state_->release_token_place(*token_);
    token_.reset();
    timer_.cancel();
    // After a clean close Beast has already torn the connection down.
    if (ec != websocket::error::closed) beast::get_lowest_layer(ws_).close();
  }

  std::shared_ptr<ServerState> state_;
  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer timer_;  // idle deadline while open, closing deadline after
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Phase phase_ = Phase::kUpgrade;
  uint64_t connection_ = 0;  // registry id while it holds series, else 0
  std::optional<size_t> token_;  // the token place this publisher holds, from upgrade to end
  net::ConnectionSlot slot_;  // freed with the session
  std::string publisher_;    // X-Ballast-Publisher, empty when not named
  size_t invalid_in_a_row_ = 0;
  SteadyTime last_heard_;
  SteadyTime close_deadline_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  std::optional<websocket::close_reason> pending_close_;
  bool close_sent_ = false;
};

}  // namespace

struct SessionServer::Impl {
  asio::io_context& context;
  std::shared_ptr<net::Listener> listener;
  std::shared_ptr<ServerState> state;
};

SessionServer::SessionServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SessionServer::~SessionServer() { stop(); }

Result<std::unique_ptr<SessionServer>> SessionServer::start(net::IoPool& pool, SessionServerOptions options,
                                                            SessionRegistry& registry, MetricsRegistry& metrics) {
  if (!options.insecure && options.tokens.empty()) {
    return invalid_argument("the sessions listener needs at least one bearer token unless it runs insecure");
  }
  for (const auto& token : options.tokens) {
    if (token.empty()) return invalid_argument("sessions bearer tokens must not be empty");
  }
  if (options.max_frame_bytes == 0) return invalid_argument("sessions max frame size must be positive");
  if (options.max_connections_per_token == 0) {
    return invalid_argument("sessions-max-connections-per-token must be positive");
  }
  if (options.idle_timeout <= std::chrono::milliseconds::zero()) {
    return invalid_argument("sessions idle timeout must be positive");
  }

  auto& context = pool.context();
  auto state = std::make_shared<ServerState>(std::move(options), registry, metrics, context);
  auto listener = net::Listener::bind(
      context, state->options.address, state->options.max_connections,
      [state](tcp::socket socket, net::ConnectionSlot slot) {
        auto session = std::make_shared<Session>(std::move(socket), std::move(slot), state);
        asio::dispatch(session->executor(), [session] { session->start(); });
      });
  if (!listener) return listener.error();
  (*listener)->start();
  asio::dispatch(state->refresh_timer.get_executor(), [state] { schedule_refresh(state); });
  state->log.info("sessions listener started", {{"address", state->options.address},
                                                {"port", (*listener)->port()},
                                                {"insecure", state->options.insecure}});
  return std::unique_ptr<SessionServer>(new SessionServer(std::make_unique<Impl>(Impl{context, *listener, state})));
}

uint16_t SessionServer::port() const { return impl_->listener->port(); }

void SessionServer::stop() {
  const auto& state = impl_->state;
  if (!state->sessions.begin_closing()) return;
  impl_->listener->stop();
  asio::dispatch(state->refresh_timer.get_executor(), [state] { state->refresh_timer.cancel(); });
  state->sessions.close_all(impl_->context, kDrainTimeout);
}

Result<std::vector<std::string>> load_tokens(const std::string& path) {
  auto text = read_regular_file(path);
  if (!text) return Error{text.error().code, "token file: " + text.error().message};
  std::istringstream file(*text);
  std::vector<std::string> tokens;
  std::string line;
  while (std::getline(file, line)) {
    constexpr const char* kSpace = " \t\r\n\v\f";
    const auto first = line.find_first_not_of(kSpace);
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(kSpace);
    tokens.push_back(line.substr(first, last - first + 1));
  }
  if (tokens.empty()) return invalid_argument("token file " + path + " holds no token");
  return tokens;
}

}  // namespace ballast::sessions
