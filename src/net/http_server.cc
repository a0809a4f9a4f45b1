#include "net/http_server.h"

#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/io_pool.h"
#include "net/beast_http.h"
#include "net/listener.h"

namespace ballast::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct ServerState {
  HttpServerOptions options;
  HttpServer::Handler handler;
};

// One keep-alive connection: read a request, answer it, repeat. Runs on the socket's strand.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, ConnectionSlot slot, std::shared_ptr<const ServerState> state)
      : stream_(std::move(socket)), slot_(std::move(slot)), state_(std::move(state)) {}

  void start() { read_request(); }

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
    response->keep_alive(request.keep_alive());
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
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, size_t) {
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
  std::shared_ptr<const ServerState> state_;
};

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<Listener> listener;
};

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(IoPool& pool, const HttpServerOptions& options,
                                                      Handler handler) {
  // Every connection shares the state, so the handler outlives requests still in flight.
  auto state = std::make_shared<const ServerState>(ServerState{options, std::move(handler)});
  auto listener = Listener::bind(pool.context(), options.address, options.max_connections,
                                 [state](tcp::socket socket, ConnectionSlot slot) {
                                   std::make_shared<Connection>(std::move(socket), std::move(slot), state)->start();
                                 });
  auto impl = std::make_shared<Impl>();
  if (!listener) return listener.error();
  impl->listener = *listener;
  impl->listener->start();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

uint16_t HttpServer::port() const { return impl_->listener->port(); }

void HttpServer::stop() {
  if (impl_ && impl_->listener) impl_->listener->stop();
}

}  // namespace ballast::net
