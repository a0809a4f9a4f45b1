#include "net/http_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <future>
#include <mutex>
#include <optional>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/net_address.h"
#include "net/io_pool.h"

namespace ballast::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr size_t kHeaderLimit = 64u << 10;

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One keep-alive connection. Exactly one of the two streams is set; both run on the
// strand they were made with, so a connection taken from the pool keeps its strand.
struct Connection {
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  std::shared_ptr<ssl::context> context;  // keeps SSL_CTX alive; a rebuilt context retires the connection
  beast::flat_buffer buffer;
  SteadyTime idle_since;

  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*tls); }
  void close() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().socket().close(ignored);
  }
};

// The modification times of the files a TLS context was built from: a change (rotated
// certificate, new CA bundle) builds a new context.
using FileStamps = std::vector<int64_t>;

FileStamps stamp(const TlsOptions& options) {
  FileStamps stamps;
  for (const auto* path : {&options.ca_file, &options.cert_file, &options.key_file}) {
    struct stat info {};
    stamps.push_back(!path->empty() && ::stat(path->c_str(), &info) == 0
                         ? int64_t{info.st_mtim.tv_sec} * 1'000'000'000 + info.st_mtim.tv_nsec
                         : -1);
  }
  return stamps;
}

Result<std::shared_ptr<ssl::context>> build_tls_context(const TlsOptions& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  beast::error_code ec;
  if (options.ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(options.ca_file, ec);
  }
  if (ec) return invalid_argument("tls: cannot load CA file \"" + options.ca_file + "\": " + ec.message());
  if (options.cert_file.empty() != options.key_file.empty()) {
    return invalid_argument("tls: a client certificate needs both cert_file and key_file");
  }
  if (!options.cert_file.empty()) {
    context->use_certificate_chain_file(options.cert_file, ec);
    if (ec) return invalid_argument("tls: cannot load certificate \"" + options.cert_file + "\": " + ec.message());
    context->use_private_key_file(options.key_file, ssl::context::pem, ec);
    if (ec) return invalid_argument("tls: cannot load key \"" + options.key_file + "\": " + ec.message());
  }
  context->set_verify_mode(options.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  return context;
}

std::string default_port_suffix(const Url& url) {
  const bool default_port = (url.scheme == "http" && url.port == 80) || (url.scheme == "https" && url.port == 443);
  return default_port ? "" : ":" + std::to_string(url.port);
}

std::string host_header(const Url& url) {
  const std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  return host + default_port_suffix(url);
}

// Errors that mean a pooled connection was closed by the peer, usually while idle: the
// request most likely never reached it, so one retry on a fresh connection is worth it.
bool is_stale_connection(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated;
}

// Only for requests that mean the same when repeated (Go's net/http rule): a server that
// carried out a POST and then closed looks exactly like a stale connection, and sending
// the POST again would, say, order a second VM.
bool replayable(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

}  // namespace

Result<Url> parse_url(std::string_view text) {
  Url url;
  // Errors show the URL without credentials or query: it may come from a user's setting.
  const std::string shown = redact_url(text);
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return invalid_argument("URL \"" + shown + "\" has no scheme");
  url.scheme = lowercase(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") {
    return invalid_argument("URL \"" + shown + "\" must start with http:// or https://");
  }
  std::string_view rest = text.substr(scheme_end + 3);
  const size_t authority_end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return invalid_argument("URL \"" + shown + "\" must not carry credentials");
  }
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid_argument("URL \"" + shown + "\" has a bad IPv6 host");
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return invalid_argument("URL \"" + shown + "\" has a bad port");
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return invalid_argument("URL \"" + shown + "\" has no host");
  url.port = url.scheme == "https" ? 443 : 80;
  if (!port_text.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return invalid_argument("URL \"" + shown + "\" has a bad port");
    }
    url.port = static_cast<uint16_t>(port);
  }
  target = target.substr(0, target.find('#'));
  url.target = target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return url;
}

std::optional<std::chrono::seconds> parse_retry_after(const HttpClientResponse& response) {
  const auto it = response.headers.find("retry-after");
  if (it == response.headers.end()) return std::nullopt;
  std::string_view text = it->second;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  long long seconds = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (ec != std::errc{} || end != text.data() + text.size() || seconds < 0) return std::nullopt;
  // Callers compare it in nanoseconds: 2^63 ns is 292 years, so a server's larger number
  // would overflow; no wait longer than a day is meant.
  constexpr long long kMaxSeconds = 24 * 3600;
  return std::chrono::seconds(std::min(seconds, kMaxSeconds));
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

namespace {

// Shared by the client and its requests in flight, so either may go first.
struct ClientState {
  struct TlsEntry {
    FileStamps stamps;
    std::shared_ptr<ssl::context> context;
  };

  ClientState(asio::io_context& io, HttpClient::Options opts) : context(io), options(opts) {}

  // Contexts are cached per settings and rebuilt when a file changes. Building one reads
  // a few small PEM files; that happens on the first request and after a rotation only.
  Result<std::shared_ptr<ssl::context>> tls_context(const TlsOptions& tls) {
    auto stamps = stamp(tls);
    std::lock_guard lock(mutex);
    auto it = tls_contexts.find(tls);
    if (it != tls_contexts.end() && it->second.stamps == stamps) return it->second.context;
    auto built = build_tls_context(tls);
    if (!built) return built.error();
    tls_contexts[tls] = TlsEntry{std::move(stamps), *built};
    return *built;
  }

  std::unique_ptr<Connection> checkout(const std::string& key, const std::shared_ptr<ssl::context>& tls) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    const auto oldest_usable = std::chrono::steady_clock::now() - options.idle_timeout;
    while (!list.empty()) {
      auto connection = std::move(list.back());
      list.pop_back();
      if (connection->idle_since >= oldest_usable && connection->context == tls) return connection;
      connection->close();
    }
    return nullptr;
  }

  void checkin(const std::string& key, std::unique_ptr<Connection> connection) {
    connection->idle_since = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    if (closed || options.max_idle_per_peer == 0) return connection->close();
    auto& list = idle[key];
    if (list.size() >= options.max_idle_per_peer) {
      list.front()->close();
      list.erase(list.begin());
    }
    list.push_back(std::move(connection));
  }

  asio::io_context& context;
  const HttpClient::Options options;
  mutable std::mutex mutex;  // guards everything below
  bool closed = false;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // newest last
  std::map<TlsOptions, TlsEntry> tls_contexts;
};

// One request from start to callback. Owns its connection while it runs and returns it
// to the pool when the response leaves it reusable. Every step runs on the connection's
// strand; one timer enforces the connect budget, then the overall deadline.
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<ClientState> impl, HttpClientRequest request, Url url,
           std::shared_ptr<ssl::context> tls, HttpClient::Callback callback, HttpClient::DataCallback on_data = nullptr)
      : impl_(std::move(impl)),
        request_(std::move(request)),
        url_(std::move(url)),
        tls_(std::move(tls)),
        callback_(std::move(callback)),
        on_data_(std::move(on_data)),
        started_(std::chrono::steady_clock::now()),
        deadline_(started_ + request_.timeout) {
    key_ = url_.scheme + "://" + host_header(url_);
    if (tls_) {
      key_ += "|ca=" + request_.tls.ca_file + "|cert=" + request_.tls.cert_file + "|key=" + request_.tls.key_file +
              (request_.tls.insecure_skip_verify ? "|insecure" : "");
    }
    message_.method_string(request_.method);
    message_.target(url_.target);
    message_.version(11);
    message_.set(http::field::host, host_header(url_));
    message_.set(http::field::user_agent, "ballast/" BALLAST_VERSION);
    for (const auto& [name, value] : request_.headers) message_.insert(name, value);
    message_.body() = request_.body;
    if (!request_.body.empty() || request_.method == "POST" || request_.method == "PUT") message_.prepare_payload();
    message_.keep_alive(true);
  }

  void start() {
    // A stream holds its connection for minutes: it never borrows a pooled one.
    if (on_data_) return connect();
    connection_ = impl_->checkout(key_, tls_);
    if (connection_) {
      auto executor = connection_->lowest().get_executor();
      timer_.emplace(executor);
      asio::post(executor, [self = shared_from_this()] { self->send(true); });
    } else {
      connect();
    }
  }

  // Ends a stream from any thread: on its strand, closing the socket fails the pending read.
  void cancel() {
    asio::post(*strand_, [self = shared_from_this()] {
      self->cancelled_ = true;
      if (self->resolver_) self->resolver_->cancel();
      if (self->connection_) self->connection_->close();
    });
  }

 private:
  void connect() {
    Strand strand = asio::make_strand(impl_->context);
    strand_.emplace(strand);
    timer_.emplace(strand);
    resolver_.emplace(strand);
    connection_ = std::make_unique<Connection>();
    connection_->context = tls_;
    if (tls_) {
      connection_->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(strand, *tls_);
    } else {
      connection_->plain = std::make_unique<beast::tcp_stream>(strand);
    }
    asio::post(strand, [self = shared_from_this()] {
      self->arm(std::min(self->deadline_, std::chrono::steady_clock::now() + self->request_.connect_timeout),
                "connecting");
      self->resolver_->async_resolve(self->url_.host, std::to_string(self->url_.port),
                                     [self](beast::error_code ec, tcp::resolver::results_type results) {
                                       self->on_resolve(ec, std::move(results));
                                     });
    });
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    if (ec) return fail_transport(ec, "resolving " + url_.host);
    connection_->lowest().async_connect(results, [self = shared_from_this()](beast::error_code ec,
                                                                             const tcp::endpoint&) {
      self->on_connect(ec);
    });
  }

  void on_connect(beast::error_code ec) {
    if (ec) return fail_transport(ec, "connecting to " + host_header(url_));
    connection_->lowest().socket().set_option(tcp::no_delay(true), ec);
    if (!connection_->tls) return send(false);
    SSL* handle = connection_->tls->native_handle();
    const bool ip = is_ip_literal(url_.host);
    // SNI names hosts only (RFC 6066); IP peers are checked against their IP SANs.
    if (!ip) SSL_set_tlsext_host_name(handle, url_.host.c_str());
    if (!request_.tls.insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(handle);
      if (ip) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
      } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), url_.host.size());
      }
    }
    connection_->tls->async_handshake(ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail_transport(ec, "TLS handshake with " + host_header(self->url_));
      self->send(false);
    });
  }

  void send(bool reused) {
    reused_ = reused;
    arm(deadline_, "waiting for the response");
    auto on_write = [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); };
    if (connection_->tls) {
      http::async_write(*connection_->tls, message_, std::move(on_write));
    } else {
      http::async_write(*connection_->plain, message_, std::move(on_write));
    }
  }

  void on_write(beast::error_code ec) {
    if (ec) return on_failed_exchange(ec);
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(request_.body_limit);
    auto on_header = [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); };
    if (connection_->tls) {
      http::async_read_header(*connection_->tls, connection_->buffer, *parser_, std::move(on_header));
    } else {
      http::async_read_header(*connection_->plain, connection_->buffer, *parser_, std::move(on_header));
    }
  }

  // Beast 1.74's eager read lets a Content-Length over the body limit through, so the
  // declared length is checked here; chunked and read-to-EOF bodies are counted by the
  // parser itself.
  void on_header(beast::error_code ec) {
    if (ec) return on_failed_exchange(ec);
    const auto declared = parser_->content_length();
    const auto status = parser_->get().result_int();
    if (on_data_ && status >= 200 && status < 300) {
      parser_->body_limit(boost::none);
      return read_stream_piece();
    }
    if (declared && *declared > request_.body_limit) return on_failed_exchange(http::error::body_limit);
    auto on_read = [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); };
    if (connection_->tls) {
      http::async_read(*connection_->tls, connection_->buffer, *parser_, std::move(on_read));
    } else {
      http::async_read(*connection_->plain, connection_->buffer, *parser_, std::move(on_read));
    }
  }

  void read_stream_piece() {
    auto on_piece = [self = shared_from_this()](beast::error_code ec, size_t) { self->on_stream_piece(ec); };
    if (connection_->tls) {
      http::async_read_some(*connection_->tls, connection_->buffer, *parser_, std::move(on_piece));
    } else {
      http::async_read_some(*connection_->plain, connection_->buffer, *parser_, std::move(on_piece));
    }
  }

  void on_stream_piece(beast::error_code ec) {
    std::string piece;
    piece.swap(parser_->get().body());
    if (!piece.empty() && !cancelled_ && !on_data_(piece)) cancelled_ = true;
    if (cancelled_) return finish(unavailable("stream from " + host_header(url_) + " cancelled"));
    if (ec) return fail_transport(ec, "streaming from " + host_header(url_));
    if (!parser_->is_done()) return read_stream_piece();
    HttpClientResponse response;
    response.status = static_cast<int>(parser_->get().result_int());
    for (const auto& field : parser_->get()) response.headers[lowercase(field.name_string())] = std::string(field.value());
    finish(std::move(response));
  }

  void on_failed_exchange(beast::error_code ec) {
    if (!timed_out_ && reused_ && replayable(request_.method) && is_stale_connection(ec) &&
        !(parser_ && parser_->got_some())) {
      // The pooled connection had been closed by the peer; the request never reached it.
      connection_.reset();
      parser_.reset();
      return connect();
    }
    if (ec == http::error::body_limit) {
      return finish(Error{ErrorCode::kIo, "response from " + host_header(url_) + " is larger than " +
                                              std::to_string(request_.body_limit) + " bytes"});
    }
    if (!timed_out_ && ec != http::error::end_of_stream &&
        ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return finish(Error{ErrorCode::kIo, "malformed HTTP response from " + host_header(url_) + ": " + ec.message()});
    }
    fail_transport(ec, "exchanging with " + host_header(url_));
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_failed_exchange(ec);
    disarm();
    auto message = parser_->release();
    HttpClientResponse response;
    response.status = static_cast<int>(message.result_int());
    for (const auto& field : message) response.headers[lowercase(field.name_string())] = std::string(field.value());
    response.body = std::move(message.body());
    if (message.keep_alive() && !parser_->need_eof()) {
      impl_->checkin(key_, std::move(connection_));
    }
    connection_.reset();
    if (response.status >= 300 && response.status < 400) {
      const auto location = response.headers.find("location");
      return finish(Error{ErrorCode::kIo, "HTTP " + std::to_string(response.status) + " redirect to \"" +
                                              (location == response.headers.end() ? "" : location->second) +
                                              "\" refused: point the URL at the final address"});
    }
    finish(std::move(response));
  }

  // Arms the one timer: past `when` the open socket is closed, which ends the pending
  // step; `phase` says what timed out. A generation number ignores stale expiries.
  void arm(SteadyTime when, const char* phase) {
    phase_ = phase;
    const uint64_t generation = ++timer_generation_;
    timer_->expires_at(when);
    timer_->async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (ec || generation != self->timer_generation_) return;
      self->timed_out_ = true;
      if (self->resolver_) self->resolver_->cancel();
      if (self->connection_) self->connection_->close();
    });
  }

  void disarm() {
    ++timer_generation_;
    timer_->cancel();
  }

  void fail_transport(beast::error_code ec, const std::string& what) {
    if (cancelled_) return finish(unavailable("stream from " + host_header(url_) + " cancelled"));
    if (timed_out_) {
      const auto budget = phase_ == std::string_view("connecting")
                              ? std::min(request_.connect_timeout, request_.timeout)
                              : request_.timeout;
      return finish(unavailable(host_header(url_) + " timed out " + phase_ + " (after " +
                                std::to_string(budget.count()) + "ms)"));
    }
    finish(unavailable(what + " failed: " + ec.message()));
  }

  void finish(Result<HttpClientResponse> result) {
    if (timer_) disarm();
    if (connection_) connection_->close();
    connection_.reset();
    auto callback = std::move(callback_);
    callback_ = nullptr;
    if (callback) callback(std::move(result));
  }

  std::shared_ptr<ClientState> impl_;
  HttpClientRequest request_;
  Url url_;
  std::shared_ptr<ssl::context> tls_;
  HttpClient::Callback callback_;
  HttpClient::DataCallback on_data_;  // set for streams
  std::optional<Strand> strand_;      // set once connecting; streams are cancelled on it
  SteadyTime started_;
  SteadyTime deadline_;
  std::string key_;
  http::request<http::string_body> message_;
  std::unique_ptr<Connection> connection_;
  std::optional<asio::steady_timer> timer_;
  std::optional<tcp::resolver> resolver_;
  std::optional<http::response_parser<http::string_body>> parser_;
  uint64_t timer_generation_ = 0;
  const char* phase_ = "connecting";
  bool timed_out_ = false;
  bool reused_ = false;
  bool cancelled_ = false;
};

// An exchange ready to start, or nullptr once `callback` has been posted the error (bad
// URL, unreadable TLS files).
std::shared_ptr<Exchange> prepare_exchange(const std::shared_ptr<ClientState>& state, HttpClientRequest request,
                                           HttpClient::Callback callback, HttpClient::DataCallback on_data) {
  auto fail = [&state, &callback](Error error) -> std::shared_ptr<Exchange> {
    asio::post(state->context, [callback = std::move(callback), error = std::move(error)] { callback(error); });
    return nullptr;
  };
  auto url = parse_url(request.url);
  if (!url) return fail(url.error());
  std::shared_ptr<ssl::context> tls;
  if (url->scheme == "https") {
    auto context = state->tls_context(request.tls);
    if (!context) return fail(context.error());
    tls = std::move(*context);
  }
  return std::make_shared<Exchange>(state, std::move(request), std::move(*url), std::move(tls), std::move(callback),
                                    std::move(on_data));
}

}  // namespace

struct HttpClient::Impl : ClientState {
  using ClientState::ClientState;
};

HttpClient::HttpClient(IoPool& pool) : HttpClient(pool, Options{}) {}

HttpClient::HttpClient(IoPool& pool, Options options)
    : impl_(std::make_shared<Impl>(pool.context(), options)) {}

HttpClient::~HttpClient() {
  std::lock_guard lock(impl_->mutex);
  impl_->closed = true;
  for (auto& [key, list] : impl_->idle) {
    for (auto& connection : list) connection->close();
  }
  impl_->idle.clear();
}

void HttpClient::request(HttpClientRequest request, Callback callback) {
  if (auto exchange = prepare_exchange(impl_, std::move(request), std::move(callback), nullptr)) exchange->start();
}

std::function<void()> HttpClient::stream(HttpClientRequest request, DataCallback on_data, Callback callback) {
  auto exchange = prepare_exchange(impl_, std::move(request), std::move(callback), std::move(on_data));
  if (!exchange) return [] {};
  exchange->start();
  return [weak = std::weak_ptr<Exchange>(exchange)] {
    if (auto live = weak.lock()) live->cancel();
  };
}

Result<HttpClientResponse> HttpClient::request_sync(HttpClientRequest request) {
  std::promise<Result<HttpClientResponse>> promise;
  auto future = promise.get_future();
  this->request(std::move(request), [&promise](Result<HttpClientResponse> result) { promise.set_value(std::move(result)); });
  return future.get();
}

size_t HttpClient::idle_connections() const {
  std::lock_guard lock(impl_->mutex);
  size_t count = 0;
  for (const auto& [key, list] : impl_->idle) count += list.size();
  return count;
}

}  // namespace ballast::net
