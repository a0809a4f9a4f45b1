#include "peers/peer_hub.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "core/log.h"
#include "core/net_address.h"
#include "core/recent_set.h"
#include "net/io_pool.h"
#include "peers/peer_wire.h"
#include "sources/sessions/peer_upgrade.h"
#include "sources/sessions/session_registry.h"
#include "sources/sessions/session_server.h"

namespace ballast::peers {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;
using std::chrono::milliseconds;

constexpr std::chrono::seconds kConnectTimeout{3};
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{2000};
constexpr std::chrono::seconds kStopTimeout{1};
// A snapshot of 5,000 publishers is a few hundred KiB per frame chunk at most.
constexpr uint64_t kMaxPeerFrameBytes = 16 * 1024 * 1024;
constexpr const char* kByeReason = "replica stopping";
// Replicas whose address left discovery, remembered to refuse their links: a bound for
// pod churn; one forgotten is only accepted again if it is still alive and dialing.
constexpr size_t kRemovedPeersRemembered = 4096;

SteadyTime now() { return std::chrono::steady_clock::now(); }

}  // namespace

class Dialer;
class Receiver;

// State every link shares; owned by the PeerHub and kept alive by pending handlers.
struct PeerHub::Shared : std::enable_shared_from_this<PeerHub::Shared> {
  Shared(asio::io_context& io, PeerOptions peer_options, sessions::SessionRegistry& session_registry,
         MetricsRegistry& metrics)
      : context(io),
        options(std::move(peer_options)),
        registry(session_registry),
        sent_bytes(metrics.counter("ballast_peer_sent_bytes_total",
                                   "Bytes of peer frames this replica sent (its share and heartbeats).")),
        received_bytes(metrics.counter("ballast_peer_received_bytes_total",
                                       "Bytes of peer frames this replica received (the peers' shares).")),
        bound(options.heartbeat * options.missed_heartbeats),
        dns_timer(asio::make_strand(io)),
        resolver(dns_timer.get_executor()) {}

  asio::io_context& context;
  const PeerOptions options;
  sessions::SessionRegistry& registry;
  Counter& sent_bytes;
  Counter& received_bytes;
  const milliseconds bound;
  Logger log{"peers"};
  std::atomic<bool> stopping{false};
  SteadyTime started{};
  uint16_t default_port = 0;
  asio::steady_timer dns_timer;  // its strand also runs the resolver
  tcp::resolver resolver;

  mutable std::mutex mutex;  // guards everything below
  bool dns_answered = false;
  bool service_answered = false;
  // What each discovery source names now; the dialers follow their union with the static list.
  std::set<std::string> dns_peers;
  std::set<std::string> service_peers;
  RecentSet removed_replicas{kRemovedPeersRemembered};  // replica ids whose address left discovery
  bool ready_latched = false;
  std::map<std::string, std::shared_ptr<Dialer>> dialers;  // by address
  struct Origin {
    std::weak_ptr<Receiver> link;  // the current link from that replica
    bool synced = false;           // its snapshot on the current link is complete
    std::shared_ptr<asio::steady_timer> expiry;
  };
  std::map<std::string, Origin> origins;  // by replica id
  uint64_t next_generation = 1;
  std::condition_variable stopped_cv;
  size_t open_dialers = 0;

  void set_discovered(std::set<std::string> Shared::*source, std::set<std::string> addresses);
  void sync_dialers();
  bool remove_replica_locked(const std::string& replica, std::vector<std::shared_ptr<Receiver>>& links);
  bool removed(const std::string& replica) const;
  void readmit(const std::string& replica);
  void local_changed(uint64_t connection);
  uint64_t attach(const std::string& origin, const std::shared_ptr<Receiver>& link);
  void detach(const std::string& origin, const Receiver* link, milliseconds keep_for);
  void mark_synced(const std::string& origin, const Receiver* link);
  void resolve_dns();
  bool ready_locked(SteadyTime at);
  std::vector<PeerStatus> peers_locked() const;
};

// The link this replica dials to one peer address, pushing this replica's share.
// Every member but those under dirty_mutex_ and the atomics is touched only on the strand.
// Each attempt has an epoch; handlers of an earlier attempt find it changed and do nothing.
class Dialer : public std::enable_shared_from_this<Dialer> {
 public:
  enum class State { kConnecting, kUp, kSelf, kDown };

  Dialer(std::shared_ptr<PeerHub::Shared> shared, std::string address)
      : shared_(std::move(shared)),
        address_(std::move(address)),
        strand_(asio::make_strand(shared_->context)),
        resolver_(strand_),
        timer_(strand_) {}

  void start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->connect(); });
  }

  // Ends the link; with `bye`, pending changes go first and then a normal close, so the
  // peer drops this replica's share at once.
  void stop(bool bye) {
    asio::dispatch(strand_, [self = shared_from_this(), bye] { self->finish(bye); });
  }

  // Any thread (the registry's listener, under its lock): only records and wakes.
  void mark_dirty(uint64_t connection) {
    std::lock_guard lock(dirty_mutex_);
    dirty_.insert(connection);
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(strand_, [self = shared_from_this()] { self->flush(); });
  }

  State state() const { return state_.load(); }
  std::string peer_id() const {
    std::lock_guard lock(dirty_mutex_);
    return peer_id_;
  }
  bool failed_once() const { return failed_once_.load(); }

 private:
  void connect() {
    if (finishing_ || shared_->stopping) return;
    state_ = State::kConnecting;
    auto host_port = parse_host_port(address_);
    if (!host_port) return fail("bad peer address: " + host_port.error().message);
    resolver_.async_resolve(host_port->host, std::to_string(host_port->port),
                            [self = shared_from_this(), epoch = epoch_](beast::error_code ec,
                                                                         tcp::resolver::results_type results) {
                              if (epoch != self->epoch_) return;
                              if (ec) return self->fail("cannot resolve: " + ec.message());
                              self->on_resolved(results);
                            });
  }

  void on_resolved(const tcp::resolver::results_type& results) {
    if (finishing_) return;
    ws_.emplace(strand_);
    beast::get_lowest_layer(*ws_).expires_after(kConnectTimeout);
    beast::get_lowest_layer(*ws_).async_connect(
        results, [self = shared_from_this(), epoch = epoch_](beast::error_code ec, const tcp::endpoint&) {
          if (epoch != self->epoch_) return;
          if (ec) return self->fail("cannot connect: " + ec.message());
          self->handshake();
        });
  }

  void handshake() {
    if (finishing_) return;
    auto& ws = *ws_;
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout{kConnectTimeout, websocket::stream_base::none(), false});
    ws.read_message_max(kMaxPeerFrameBytes);
    const std::string token = shared_->options.token;
    const std::string id = shared_->options.replica_id;
    ws.set_option(websocket::stream_base::decorator([token, id](websocket::request_type& request) {
      if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
      request.set(kReplicaHeader, id);
    }));
    response_.emplace();
    ws.async_handshake(*response_, address_, sessions::kPeersPath,
                       [self = shared_from_this(), epoch = epoch_](beast::error_code ec) {
                         if (epoch == self->epoch_) self->on_handshake(ec);
                       });
  }

  void on_handshake(beast::error_code ec) {
    if (finishing_) return;
    if (ec) {
      if (response_->result() == http::status::conflict) {
        state_ = State::kSelf;
        shared_->log.info("peer address is this replica", {{"peer", address_}});
        close_socket();
        return;
      }
      if (response_->result() == http::status::unauthorized) return fail("the peer refused our peer token (401)");
      return fail("handshake failed: " + ec.message());
    }
    {
      std::lock_guard lock(dirty_mutex_);
      peer_id_ = std::string((*response_)[kReplicaHeader]);
      // The snapshot below covers every change so far; later ones land in dirty_ again.
      dirty_.clear();
    }
    // Reached at a discovered address: its own link to us counts again.
    shared_->readmit(peer_id());
    backoff_ = kMinBackoff;
    state_ = State::kUp;
    last_heard_ = now();
    shared_->log.info("peer link up", {{"peer", address_}});
    for (auto& update : snapshot_updates(shared_->registry.all_local_shares(), shared_->options.connections_per_frame)) {
      outbox_.push_back(encode_update(update));
    }
    write_next();
    read_next();
    arm_heartbeat();
  }

  void flush() {
    {
      std::lock_guard lock(dirty_mutex_);
      flush_posted_ = false;
      if (state_ != State::kUp || writing_) return;  // after the write, or in the next snapshot
    }
    queue_dirty();
    write_next();
  }

  // Queues one frame with the current share of every connection changed since the last.
  void queue_dirty() {
    std::vector<uint64_t> ids;
    {
      std::lock_guard lock(dirty_mutex_);
      ids.assign(dirty_.begin(), dirty_.end());
      dirty_.clear();
    }
    if (ids.empty()) return;
    PeerUpdate update;
    for (auto& [id, share] : shared_->registry.local_shares(ids)) {
      if (share) {
        update.shares.push_back(std::move(*share));
      } else {
        update.gone.push_back(id);
      }
    }
    outbox_.push_back(encode_update(update));
  }

  void write_next() {
    if (writing_ || state_ != State::kUp) return;
    if (outbox_.empty()) {
      if (finishing_) return close_normally();
      bool dirty = false;
      {
        std::lock_guard lock(dirty_mutex_);
        dirty = !dirty_.empty() && !flush_posted_;
      }
      if (dirty) flush();
      return;
    }
    writing_ = true;
    ws_->async_write(asio::buffer(outbox_.front()), [self = shared_from_this(), epoch = epoch_](beast::error_code ec,
                                                                                                 size_t) {
      if (epoch != self->epoch_) return;
      self->writing_ = false;
      self->shared_->sent_bytes.increment(static_cast<double>(self->outbox_.front().size()));
      self->outbox_.pop_front();
      if (ec) return self->fail("write failed: " + ec.message());
      self->write_next();
    });
  }

  void read_next() {
    ws_->async_read(buffer_, [self = shared_from_this(), epoch = epoch_](beast::error_code ec, size_t) {
      if (epoch != self->epoch_) return;
      if (ec) return self->fail("link closed: " + ec.message());
      self->buffer_.consume(self->buffer_.size());
      self->last_heard_ = now();
      self->read_next();
    });
  }

  void arm_heartbeat() {
    timer_.expires_after(shared_->options.heartbeat);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->state_ != State::kUp || self->finishing_) return;
      if (now() - self->last_heard_ > self->shared_->bound) return self->fail("peer silent past the bound");
      if (!self->writing_ && self->outbox_.empty()) {
        self->outbox_.push_back("{}");
        self->write_next();
      }
      self->arm_heartbeat();
    });
  }

  void finish(bool bye) {
    if (finishing_) return;
    finishing_ = true;
    timer_.cancel();
    resolver_.cancel();
    if (bye && state_ == State::kUp) {
      queue_dirty();
      if (!writing_ && outbox_.empty()) close_normally();
      return;  // write_next() closes once the outbox drains
    }
    close_socket();
    done();
  }

  void close_normally() {
    if (closing_) return;
    closing_ = true;
    ws_->async_close({websocket::close_code::normal, kByeReason}, [self = shared_from_this()](beast::error_code) {
      self->close_socket();
      self->done();
    });
  }

  void done() {
    if (done_) return;
    done_ = true;
    state_ = State::kDown;
    std::lock_guard lock(shared_->mutex);
    --shared_->open_dialers;
    shared_->stopped_cv.notify_all();
  }

  void fail(const std::string& why) {
    ++epoch_;  // what the old attempt still has pending is ignored from here
    outbox_.clear();
    writing_ = false;
    buffer_.clear();
    if (finishing_) {
      close_socket();
      return done();
    }
    const bool was_up = state_ == State::kUp;
    state_ = State::kDown;
    failed_once_ = true;
    close_socket();
    if (was_up) {
      shared_->log.warn("peer link down", {{"peer", address_}, {"reason", why}});
    } else {
      shared_->log.debug("peer not reachable", {{"peer", address_}, {"reason", why}});
    }
    timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->connect();
    });
  }

  void close_socket() {
    if (!ws_) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
  }

  std::shared_ptr<PeerHub::Shared> shared_;
  const std::string address_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;  // reconnect backoff, then heartbeats
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  std::optional<websocket::response_type> response_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool finishing_ = false;
  bool closing_ = false;
  bool done_ = false;
  uint64_t epoch_ = 0;
  SteadyTime last_heard_{};
  milliseconds backoff_ = kMinBackoff;
  std::atomic<State> state_{State::kConnecting};
  std::atomic<bool> failed_once_{false};

  mutable std::mutex dirty_mutex_;  // guards dirty_, flush_posted_, peer_id_
  std::set<uint64_t> dirty_;
  bool flush_posted_ = false;
  std::string peer_id_;
};

// The link a peer dialed to this replica, carrying that peer's share. Every member is
// touched only on the connection's strand.
class Receiver : public std::enable_shared_from_this<Receiver> {
 public:
  Receiver(std::shared_ptr<PeerHub::Shared> shared, sessions::PeerUpgrade&& upgrade)
      : shared_(std::move(shared)),
        ws_(std::move(upgrade.stream)),
        request_(std::move(upgrade.request)),
        buffer_(std::move(upgrade.buffer)),
        timer_(ws_.get_executor()) {}

  void start() {
    origin_ = std::string(request_[kReplicaHeader]);
    if (origin_.empty() || origin_.size() > 128) return refuse(http::status::bad_request, "missing replica id\n");
    if (origin_ == shared_->options.replica_id) return refuse(http::status::conflict, "this is the same replica\n");
    if (shared_->removed(origin_)) return refuse(http::status::forbidden, "not a discovered peer of this replica\n");
    ws_.set_option(websocket::stream_base::timeout{kConnectTimeout, websocket::stream_base::none(), false});
    ws_.read_message_max(kMaxPeerFrameBytes);
    const std::string id = shared_->options.replica_id;
    ws_.set_option(websocket::stream_base::decorator(
        [id](websocket::response_type& response) { response.set(kReplicaHeader, id); }));
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void stop() {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      self->end(/*bye=*/false);
    });
  }

  // Ends the link of a replica whose address left discovery and drops its share, on the
  // strand: a frame read before the end cannot bring part of the share back.
  void drop() {
    asio::dispatch(ws_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      self->end(/*bye=*/false);
      self->shared_->registry.drop_origin(self->origin_);
    });
  }

 private:
  void refuse(http::status status, std::string body) {
    auto response = std::make_shared<http::response<http::string_body>>(status, request_.version());
    response->set(kReplicaHeader, shared_->options.replica_id);
    response->body() = std::move(body);
    response->keep_alive(false);
    response->prepare_payload();
    http::async_write(ws_.next_layer(), *response, [self = shared_from_this(), response](beast::error_code, size_t) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().shutdown(tcp::socket::shutdown_send, ignored);
      beast::get_lowest_layer(self->ws_).close();
    });
  }

  void on_accept(beast::error_code ec) {
    if (ec || shared_->stopping) return beast::get_lowest_layer(ws_).close();
    generation_ = shared_->attach(origin_, shared_from_this());
    if (generation_ == 0) return beast::get_lowest_layer(ws_).close();  // removed from discovery meanwhile
    attached_ = true;
    ws_.text(true);
    last_heard_ = now();
    read_next();
    arm_heartbeat();
  }

  void read_next() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) { self->on_frame(ec); });
  }

  void on_frame(beast::error_code ec) {
    if (ended_) return;  // dropped while this frame was on its way
    if (ec) {
      // A normal close is a peer stopping: its share goes now rather than after the bound.
      const bool bye = ec == websocket::error::closed && ws_.reason().code == websocket::close_code::normal;
      return end(bye);
    }
    last_heard_ = now();
    shared_->received_bytes.increment(static_cast<double>(buffer_.size()));
    auto update = decode_update(beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    if (!update) {
      shared_->log.warn("dropping a peer link that sent an invalid frame",
                        {{"replica", origin_}, {"reason", update.error().message}});
      return end(false);
    }
    for (auto& share : update->shares) shared_->registry.apply_remote(origin_, generation_, std::move(share));
    for (const uint64_t id : update->gone) shared_->registry.remove_remote(origin_, id);
    if (update->synced) {
      shared_->registry.sweep_remote(origin_, generation_);
      shared_->mark_synced(origin_, this);
    }
    read_next();
  }

  void arm_heartbeat() {
    timer_.expires_after(shared_->options.heartbeat);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->ended_) return;
      if (now() - self->last_heard_ > self->shared_->bound) {
        self->shared_->log.warn("peer silent past the bound; its share stops counting", {{"replica", self->origin_}});
        return self->end(false, /*silent=*/true);
      }
      if (!self->writing_) {
        self->writing_ = true;
        self->ws_.async_write(asio::buffer(kHeartbeat, 2), [self](beast::error_code, size_t) { self->writing_ = false; });
      }
      self->arm_heartbeat();
    });
  }

  void end(bool bye, bool silent = false) {
    if (ended_) return;
    ended_ = true;
    timer_.cancel();
    beast::get_lowest_layer(ws_).close();
    if (!attached_) return;
    // Shutting down: the registry is about to go, nothing to keep.
    if (stopped_) return;
    const milliseconds keep = bye || silent ? milliseconds::zero() : shared_->bound;
    shared_->detach(origin_, this, keep);
  }

  static constexpr const char* kHeartbeat = "{}";

  std::shared_ptr<PeerHub::Shared> shared_;
  websocket::stream<beast::tcp_stream> ws_;
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  asio::steady_timer timer_;
  std::string origin_;
  uint64_t generation_ = 0;
  bool attached_ = false;
  bool ended_ = false;
  bool stopped_ = false;
  bool writing_ = false;
  SteadyTime last_heard_{};
};

void PeerHub::Shared::set_discovered(std::set<std::string> Shared::*source, std::set<std::string> addresses) {
  {
    std::lock_guard lock(mutex);
    this->*source = std::move(addresses);
  }
  sync_dialers();
}

// One dialer per address of the static list and of every discovery source's answer.
void PeerHub::Shared::sync_dialers() {
  std::vector<std::shared_ptr<Dialer>> started;
  std::vector<std::pair<std::string, std::shared_ptr<Dialer>>> ended;
  std::vector<std::shared_ptr<Receiver>> removed_links;
  std::vector<std::string> dropped;
  {
    std::lock_guard lock(mutex);
    if (stopping) return;
    std::set<std::string> addresses(options.static_peers.begin(), options.static_peers.end());
    addresses.insert(dns_peers.begin(), dns_peers.end());
    addresses.insert(service_peers.begin(), service_peers.end());
    std::set<std::string> still_found;  // replicas reached at an address that stays
    for (auto it = dialers.begin(); it != dialers.end();) {
      if (addresses.count(it->first) == 0) {
        ended.emplace_back(it->first, it->second);
        it = dialers.erase(it);
      } else {
        still_found.insert(it->second->peer_id());
        ++it;
      }
    }
    for (const auto& [address, dialer] : ended) {
      const std::string replica = dialer->peer_id();
      if (still_found.count(replica) > 0) continue;
      if (remove_replica_locked(replica, removed_links)) dropped.push_back(replica);
    }
    for (const auto& address : addresses) {
      if (dialers.count(address) > 0) continue;
      auto dialer = std::make_shared<Dialer>(shared_from_this(), address);
      dialers.emplace(address, dialer);
      ++open_dialers;
      started.push_back(std::move(dialer));
    }
  }
  for (auto& link : removed_links) link->drop();
  for (const auto& replica : dropped) registry.drop_origin(replica);
  for (auto& [address, dialer] : ended) {
    log.info("peer address gone from discovery; its share no longer counts", {{"peer", address}});
    dialer->stop(/*bye=*/true);
  }
  for (auto& dialer : started) dialer->start();
}

// Forgets the replica last reached at an address that left discovery: its share goes now
// rather than after the bound, and its links are refused until it is reached again.
// False when there is nothing to forget (the address never answered, or was this replica).
bool PeerHub::Shared::remove_replica_locked(const std::string& replica, std::vector<std::shared_ptr<Receiver>>& links) {
  if (replica.empty() || replica == options.replica_id) return false;
  removed_replicas.insert(replica);
  if (const auto it = origins.find(replica); it != origins.end()) {
    if (auto link = it->second.link.lock()) links.push_back(std::move(link));
    if (it->second.expiry) it->second.expiry->cancel();
    origins.erase(it);
  }
  return true;
}

bool PeerHub::Shared::removed(const std::string& replica) const {
  std::lock_guard lock(mutex);
  return removed_replicas.contains(replica);
}

void PeerHub::Shared::readmit(const std::string& replica) {
  std::lock_guard lock(mutex);
  removed_replicas.erase(replica);
}

void PeerHub::Shared::local_changed(uint64_t connection) {
  std::lock_guard lock(mutex);
  for (auto& [address, dialer] : dialers) dialer->mark_dirty(connection);
}

uint64_t PeerHub::Shared::attach(const std::string& origin, const std::shared_ptr<Receiver>& link) {
  std::shared_ptr<Receiver> previous;
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex);
    if (removed_replicas.contains(origin)) return 0;
    auto& entry = origins[origin];
    previous = entry.link.lock();
    entry.link = link;
    entry.synced = false;
    if (entry.expiry) entry.expiry->cancel();
    entry.expiry.reset();
    generation = next_generation++;
  }
  // A peer dials once per address; a second link from it replaces the first.
  if (previous) previous->stop();
  log.debug("peer link accepted", {{"replica", origin}});
  return generation;
}

void PeerHub::Shared::detach(const std::string& origin, const Receiver* link, milliseconds keep_for) {
  std::lock_guard lock(mutex);
  const auto it = origins.find(origin);
  if (it == origins.end() || it->second.link.lock().get() != link) return;  // replaced meanwhile
  it->second.synced = false;
  auto timer = std::make_shared<asio::steady_timer>(dns_timer.get_executor());
  it->second.expiry = timer;
  timer->expires_after(keep_for);
  timer->async_wait([self = shared_from_this(), origin, timer](beast::error_code ec) {
    if (ec || self->stopping) return;
    {
      std::lock_guard lock(self->mutex);
      const auto it = self->origins.find(origin);
      if (it == self->origins.end() || it->second.expiry != timer) return;  // a new link arrived
      self->origins.erase(it);
    }
    self->registry.drop_origin(origin);
    self->log.warn("peer share expired; it no longer counts", {{"replica", origin}});
  });
}

void PeerHub::Shared::mark_synced(const std::string& origin, const Receiver* link) {
  std::lock_guard lock(mutex);
  const auto it = origins.find(origin);
  if (it != origins.end() && it->second.link.lock().get() == link) it->second.synced = true;
}

void PeerHub::Shared::resolve_dns() {
  auto host_port = parse_host_port(options.dns_name);
  std::string host = options.dns_name;
  uint16_t port = default_port;
  if (host_port && host_port->port != 0) {
    host = host_port->host;
    port = host_port->port;
  }
  resolver.async_resolve(host, std::to_string(port), [self = shared_from_this(), port](
                                                         beast::error_code ec, tcp::resolver::results_type results) {
    if (self->stopping) return;
    if (ec) {
      self->log.warn("peers-dns lookup failed; keeping the last answer", {{"error", ec.message()}});
    } else {
      std::set<std::string> addresses;
      for (const auto& entry : results) {
        const auto address = entry.endpoint().address();
        const std::string ip = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
        addresses.insert(ip + ":" + std::to_string(port));
      }
      {
        std::lock_guard lock(self->mutex);
        self->dns_answered = true;
      }
      self->set_discovered(&Shared::dns_peers, std::move(addresses));
    }
    self->dns_timer.expires_after(self->options.dns_period);
    self->dns_timer.async_wait([self](beast::error_code wait_ec) {
      if (!wait_ec && !self->stopping) self->resolve_dns();
    });
  });
}

bool PeerHub::Shared::ready_locked(SteadyTime at) {
  if (ready_latched) return true;
  bool all = (options.dns_name.empty() || dns_answered) && (!options.service_discovery || service_answered);
  for (const auto& [address, dialer] : dialers) {
    switch (dialer->state()) {
      case Dialer::State::kSelf:
        break;
      case Dialer::State::kUp: {
        const auto it = origins.find(dialer->peer_id());
        all = all && it != origins.end() && it->second.synced;
        break;
      }
      default:
        // A peer that refused or timed out once is not reachable: nothing to wait for.
        all = all && dialer->failed_once();
    }
  }
  ready_latched = all || at - started >= options.sync_wait;
  return ready_latched;
}

std::vector<PeerStatus> PeerHub::Shared::peers_locked() const {
  std::vector<PeerStatus> out;
  for (const auto& [address, dialer] : dialers) {
    PeerStatus status{address, PeerStatus::State::kMissing};
    const auto state = dialer->state();
    if (state == Dialer::State::kSelf) {
      status.state = PeerStatus::State::kSelf;
    } else if (state == Dialer::State::kUp) {
      const auto it = origins.find(dialer->peer_id());
      if (it != origins.end() && it->second.synced) status.state = PeerStatus::State::kUp;
    }
    out.push_back(std::move(status));
  }
  return out;
}

PeerHub::PeerHub(net::IoPool& pool, PeerOptions options, sessions::SessionRegistry& registry,
                 MetricsRegistry& metrics)
    : shared_(std::make_shared<Shared>(pool.context(), std::move(options), registry, metrics)) {
  std::weak_ptr<Shared> weak = shared_;
  metrics.add_sampler("ballast_peer_up", "1 while the peer replica at this address shares its sessions with us",
                      "gauge", [weak] {
                        std::vector<std::pair<Labels, double>> out;
                        if (auto shared = weak.lock()) {
                          std::lock_guard lock(shared->mutex);
                          for (const auto& peer : shared->peers_locked()) {
                            if (peer.state == PeerStatus::State::kSelf) continue;
                            out.push_back({{{"peer", peer.address}}, peer.state == PeerStatus::State::kUp ? 1.0 : 0.0});
                          }
                        }
                        return out;
                      });
  metrics.add_sampler("ballast_peers", "Peer addresses by state: up, missing (share unknown) or self", "gauge",
                      [weak] {
                        std::map<std::string, double> counts{{"up", 0}, {"missing", 0}, {"self", 0}};
                        if (auto shared = weak.lock()) {
                          std::lock_guard lock(shared->mutex);
                          for (const auto& peer : shared->peers_locked()) {
                            counts[peer.state == PeerStatus::State::kUp     ? "up"
                                   : peer.state == PeerStatus::State::kSelf ? "self"
                                                                            : "missing"] += 1;
                          }
                        }
                        std::vector<std::pair<Labels, double>> out;
                        for (const auto& [state, count] : counts) out.push_back({{{"state", state}}, count});
                        return out;
                      });
}

PeerHub::~PeerHub() { stop(); }

void PeerHub::start(uint16_t sessions_port) {
  shared_->started = now();
  shared_->default_port = sessions_port;
  std::weak_ptr<Shared> weak = shared_;
  shared_->registry.set_local_listener([weak](uint64_t connection) {
    if (auto shared = weak.lock()) shared->local_changed(connection);
  });
  shared_->sync_dialers();
  if (!shared_->options.dns_name.empty()) {
    asio::dispatch(shared_->dns_timer.get_executor(), [shared = shared_] { shared->resolve_dns(); });
  }
  shared_->log.info("peers started", {{"replica", shared_->options.replica_id},
                                      {"static", static_cast<uint64_t>(shared_->options.static_peers.size())},
                                      {"dns", shared_->options.dns_name},
                                      {"service", shared_->options.service_discovery},
                                      {"boundMs", static_cast<int64_t>(shared_->bound.count())}});
}

void PeerHub::accept(sessions::PeerUpgrade&& upgrade) {
  if (shared_->stopping) return;
  auto receiver = std::make_shared<Receiver>(shared_, std::move(upgrade));
  receiver->start();
}

void PeerHub::set_service_peers(std::set<std::string> addresses) {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->service_answered = true;
  }
  shared_->set_discovered(&Shared::service_peers, std::move(addresses));
}

bool PeerHub::ready() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->ready_locked(now());
}

std::vector<PeerStatus> PeerHub::peers() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->peers_locked();
}

void PeerHub::stop() {
  auto& shared = *shared_;
  if (shared.stopping.exchange(true)) return;
  shared.registry.set_local_listener(nullptr);
  std::vector<std::shared_ptr<Dialer>> dialers;
  std::vector<std::shared_ptr<Receiver>> receivers;
  {
    std::lock_guard lock(shared.mutex);
    // Each dialer holds the shared state: keeping them here would keep both alive for good.
    for (auto& [address, dialer] : shared.dialers) dialers.push_back(std::move(dialer));
    shared.dialers.clear();
    for (auto& [origin, entry] : shared.origins) {
      if (auto link = entry.link.lock()) receivers.push_back(std::move(link));
      if (entry.expiry) entry.expiry->cancel();
    }
  }
  asio::dispatch(shared.dns_timer.get_executor(), [shared = shared_] {
    shared->dns_timer.cancel();
    shared->resolver.cancel();
  });
  for (auto& dialer : dialers) dialer->stop(/*bye=*/true);
  for (auto& receiver : receivers) receiver->stop();
  if (shared.context.stopped() || shared.context.get_executor().running_in_this_thread()) return;
  std::unique_lock lock(shared.mutex);
  shared.stopped_cv.wait_for(lock, kStopTimeout, [&shared] { return shared.open_dialers == 0; });
}

}  // namespace ballast::peers
