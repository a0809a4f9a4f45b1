#include "net/https_server.h"

#include <array>
#include <atomic>
#include <cctype>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/log.h"
#include "net/io_pool.h"
#include "net/beast_http.h"
#include "net/connection_set.h"
#include "net/listener.h"
#include "net/tls_server_context.h"

namespace ballast::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// How long stop() waits for requests in flight, and a closing TLS handshake may take.
constexpr auto kDrainTimeout = std::chrono::seconds(5);
constexpr auto kShutdownTimeout = std::chrono::seconds(1);
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kDiscardBytes = 16 * 1024;

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == beast::error_code(http::error::bad_target).category();
}

class Connection;

struct ServerState {
  ServerState(HttpsServerOptions server_options, HttpsServer::Handler request_handler)
      : options(std::move(server_options)), handler(std::move(request_handler)), log(options.logger_name) {}

  const HttpsServerOptions options;
  const HttpsServer::Handler handler;
  const Logger log;
  ConnectionSet<Connection> connections;
};

using Response = http::response<http::string_body>;

// One client connection: TLS handshake, then requests answered one at a time until the
// client closes, a timeout fires or the server stops. Every member is touched only on
// the socket's strand: start() and shut_down() are dispatched there, the rest are
// completion handlers. The connection holds the TLS context it was accepted with, so a
// certificate reload never touches it.
//
// TLS state (the SSL object and its buffers, tens of KB) is made only when the client's
// first bytes arrive: until then a connection is a socket and a few hundred bytes, so idle
// connections that never speak TLS cost next to nothing. The wait for those bytes and the
// handshake share one deadline, the read timeout.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ConnectionSlot slot, std::shared_ptr<ssl::context> tls,
             std::shared_ptr<ServerState> state)
      : slot_(std::move(slot)), tls_(std::move(tls)), tcp_(std::move(socket)), state_(std::move(state)) {}

  ~Connection() { state_->connections.leave(this); }

  asio::any_io_executor executor() { return lowest_layer().get_executor(); }

  void start() {
    if (!state_->connections.join(shared_from_this())) return close();
    idle_ = true;
    tcp_.expires_after(state_->options.read_timeout);
    tcp_.async_read_some(asio::buffer(hello_), [self = shared_from_this()](beast::error_code ec, size_t bytes) {
      self->idle_ = false;
      if (ec) return self->close();
      self->handshake(bytes);
    });
  }

  // Idle connections end now; one busy with a request ends after answering it.
  void shut_down() {
    if (idle_) lowest_layer().cancel();
  }

 private:
  beast::tcp_stream& lowest_layer() { return stream_ ? beast::get_lowest_layer(*stream_) : tcp_; }

  // The client's first bytes are in; TLS takes over the socket from here.
  void handshake(size_t first_bytes) {
    stream_.emplace(std::move(tcp_), *tls_);
    stream_->async_handshake(ssl::stream_base::server, asio::buffer(hello_, first_bytes),
                             [self = shared_from_this()](beast::error_code ec, size_t) {
                               if (ec) return self->close();
                               self->wait_for_request();
                             });
  }

  // Keep-alive: the long idle deadline covers only the wait for a request's first bytes;
  // once they arrive the whole request must come within the read timeout.
  void wait_for_request() {
    if (state_->connections.closing()) return close_tls();
    if (buffer_.size() > 0) return read_request();
    idle_ = true;
    lowest_layer().expires_after(state_->options.idle_timeout);
    stream_->async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                              self->idle_ = false;
                              if (ec) return self->close();
                              self->buffer_.commit(bytes);
                              self->read_request();
                            });
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(state_->options.body_limit);
    lowest_layer().expires_after(state_->options.read_timeout);
    http::async_read(*stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) return respond_error(http::status::payload_too_large, "body too large\n");
    if (ec == http::error::header_limit) {
      return respond_error(http::status::request_header_fields_too_large, "request headers too large\n");
    }
    if (ec && is_http_parse_error(ec) && ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return respond_error(http::status::bad_request, "malformed HTTP request\n");
    }
    if (ec) return close();
    const auto& request = parser_->get();
    HttpResponse plain = state_->handler(to_plain(request));
    auto response = std::make_shared<Response>(static_cast<http::status>(plain.status), request.version());
    response->set(http::field::content_type, plain.content_type);
    response->body() = std::move(plain.body);
    response->keep_alive(request.keep_alive() && !state_->connections.closing());
    response->prepare_payload();
    write(response);
  }

  void respond_error(http::status status, const char* body) {
    auto response = std::make_shared<Response>(status, 11);
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->body() = body;
    response->keep_alive(false);
    response->prepare_payload();
    write(response, /*unread_input=*/true);
  }

  // `unread_input`: the request was refused before its body was read, so the client may
  // still be sending it.
  void write(const std::shared_ptr<Response>& response, bool unread_input = false) {
    lowest_layer().expires_after(state_->options.read_timeout);
    http::async_write(*stream_, *response,
                      [self = shared_from_this(), response, unread_input](beast::error_code ec, size_t) {
                        if (ec) return self->close();
                        if (unread_input) return self->linger_close();
                        if (!response->keep_alive()) return self->close_tls();
                        self->wait_for_request();
                      });
  }

  // Closing with unread input makes the kernel send a reset, which can destroy the error
  // response before the client reads it. So: stop sending, discard what still arrives
  // until the client closes or a short deadline passes, then close.
  void linger_close() {
    auto& tcp = lowest_layer();
    beast::error_code ignored;
    tcp.socket().shutdown(tcp::socket::shutdown_send, ignored);
    tcp.expires_after(kShutdownTimeout);
    discard_ = std::make_unique<char[]>(kDiscardBytes);
    discard_input();
  }

  void discard_input() {
    lowest_layer().async_read_some(
        asio::buffer(discard_.get(), kDiscardBytes), [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->close();
          self->discard_input();
        });
  }

  // close_notify first, so the client can tell a complete response from a cut one.
  void close_tls() {
    lowest_layer().expires_after(kShutdownTimeout);
    stream_->async_shutdown([self = shared_from_this()](beast::error_code) { self->close(); });
  }

  void close() {
    beast::error_code ignored;
    auto& socket = lowest_layer().socket();
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  ConnectionSlot slot_;  // freed with the connection
  std::shared_ptr<ssl::context> tls_;
  beast::tcp_stream tcp_;  // the socket until TLS starts; moved-from after
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream_;  // from the client's first bytes on
  std::array<char, 64> hello_{};                                // those first bytes
  std::shared_ptr<ServerState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::unique_ptr<char[]> discard_;  // allocated only by linger_close()
  bool idle_ = false;
};

}  // namespace

struct HttpsServer::Impl {
  asio::io_context& context;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<ServerState> state;
  std::shared_ptr<ServingCertificate> certificate;
};

HttpsServer::HttpsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsServer::~HttpsServer() { stop(); }

Result<std::unique_ptr<HttpsServer>> HttpsServer::start(IoPool& pool, HttpsServerOptions options, Handler handler) {
  if (options.body_limit == 0) return invalid_argument("HTTPS body limit must be positive");
  Logger log(options.logger_name);
  auto loaded = ServingCertificate::load(options.cert_file, options.key_file, options.reload_interval, log,
                                        options.on_certificate_reload);
  if (!loaded) return loaded.error();
  // Shared with the accept handler, which asks it for the context of each new connection.
  std::shared_ptr<ServingCertificate> certificate = std::move(*loaded);

  auto& context = pool.context();
  auto state = std::make_shared<ServerState>(std::move(options), std::move(handler));
  auto listener = Listener::bind(
      context, state->options.address, state->options.max_connections,
      [state, certificate](tcp::socket socket, ConnectionSlot slot) {
        auto connection =
            std::make_shared<Connection>(std::move(socket), std::move(slot), certificate->current(), state);
        asio::dispatch(connection->executor(), [connection] { connection->start(); });
      });
  if (!listener) return listener.error();
  (*listener)->start();
  state->log.info("https listener started",
                  {{"address", state->options.address},
                   {"port", (*listener)->port()},
                   {"certificate", describe_serving_certificate(*certificate->current())}});
  return std::unique_ptr<HttpsServer>(
      new HttpsServer(std::make_unique<Impl>(Impl{context, *listener, state, std::move(certificate)})));
}

uint16_t HttpsServer::port() const { return impl_->listener->port(); }

void HttpsServer::stop() {
  const auto& state = impl_->state;
  if (!state->connections.begin_closing()) return;
  impl_->listener->stop();
  impl_->certificate->stop();
  state->connections.close_all(impl_->context, kDrainTimeout);
}

}  // namespace ballast::net
