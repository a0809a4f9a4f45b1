#include "net/http_server.h"

#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/io_pool.h"
#include "net/beast_http.h"
#include "net/connection_set.h"
#include "net/listener.h"

namespace ballast::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

// How long stop() waits for a request being answered.
constexpr auto kDrainTimeout = std::chrono::seconds(2);

class Connection;

struct ServerState {
  ServerState(HttpServerOptions server_options, HttpServer::Handler request_handler)
      : options(std::move(server_options)), handler(std::move(request_handler)) {}

  const HttpServerOptions options;
  const HttpServer::Handler handler;
  ConnectionSet<Connection> connections;
};

// One keep-alive connection: read a request, answer it, repeat. Runs on the socket's strand:
// start() and shut_down() are dispatched there, the rest are completion handlers.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ConnectionSlot slot, std::shared_ptr<ServerState> state)
      : stream_(std::move(socket)), slot_(std::move(slot)), state_(std::move(state)) {}

  ~Connection() { state_->connections.leave(this); }

  boost::asio::any_io_executor executor() { return stream_.get_executor(); }

  void start() {
    if (!state_->connections.join(shared_from_this())) return close();
    read_request();
  }

  // A connection waiting for a request ends now; one writing its answer ends after it.
  void shut_down() {
    if (!writing_) stream_.cancel();
  }

 private:
  void read_request() {
    parser_.emplace();
    parser_->body_limit(state_->options.body_limit);
    stream_.expires_after(state_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) return close();
    if (ec == http::error::body_limit) return respond_error(http::status::payload_too_large, "body too large\n");
    if (ec == http::error::header_limit) {
      return respond_error(http::status::request_header_fields_too_large, "request headers too large\n");
    }
    if (ec) return close();
    const auto& request = parser_->get();
    HttpResponse plain = state_->handler(to_plain(request));
    auto response = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(plain.status), request.version());
    response->set(http::field::content_type, plain.content_type);
    response->body() = std::move(plain.body);
    response->keep_alive(request.keep_alive() && !plain.close_connection && !state_->connections.closing());
    response->prepare_payload();
    write(response);
  }

  void respond_error(http::status status, const char* body) {
    auto response = std::make_shared<http::response<http::string_body>>(status, 11);
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->body() = body;
    response->keep_alive(false);
    response->prepare_payload();
    write(response);
  }

  void write(const std::shared_ptr<http::response<http::string_body>>& response) {
    writing_ = true;
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec || !response->keep_alive()) return self->close();
                        self->read_request();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  beast::tcp_stream stream_;
  ConnectionSlot slot_;  // freed with the connection
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<ServerState> state_;
  bool writing_ = false;
};

}  // namespace

struct HttpServer::Impl {
  boost::asio::io_context& context;
  std::shared_ptr<Listener> listener;
  std::shared_ptr<ServerState> state;
};

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(IoPool& pool, const HttpServerOptions& options,
                                                      Handler handler) {
  // Every connection shares the state, so the handler outlives requests still in flight.
  auto state = std::make_shared<ServerState>(options, std::move(handler));
  auto listener = Listener::bind(pool.context(), options.address, options.max_connections,
                                 [state](tcp::socket socket, ConnectionSlot slot) {
                                   auto connection =
                                       std::make_shared<Connection>(std::move(socket), std::move(slot), state);
                                   boost::asio::dispatch(connection->executor(), [connection] { connection->start(); });
                                 });
  if (!listener) return listener.error();
  (*listener)->start();
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::make_shared<Impl>(Impl{pool.context(), *listener, std::move(state)})));
}

uint16_t HttpServer::port() const { return impl_->listener->port(); }

void HttpServer::stop() {
  if (!impl_->state->connections.begin_closing()) return;
  impl_->listener->stop();
  impl_->state->connections.close_all(impl_->context, kDrainTimeout);
}

}  // namespace ballast::net
