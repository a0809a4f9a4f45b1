#include "net/listener.h"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "core/net_address.h"

namespace ballast::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& context, Handler handler)
    : context_(context), acceptor_(context), handler_(std::move(handler)) {}

Result<std::shared_ptr<Listener>> Listener::bind(asio::io_context& context, const std::string& address,
                                                 Handler handler) {
  auto host_port = parse_host_port(address);
  if (!host_port) return host_port.error();
  boost::system::error_code ec;
  tcp::resolver resolver(context);
  const auto endpoints = resolver.resolve(host_port->host, std::to_string(host_port->port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) return io_error("cannot resolve " + address + ": " + ec.message());
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();

  auto listener = std::make_shared<Listener>(context, std::move(handler));
  auto& acceptor = listener->acceptor_;
  if (acceptor.open(endpoint.protocol(), ec); ec) return io_error("cannot open " + address + ": " + ec.message());
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) return io_error("cannot listen on " + address + ": " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return io_error("cannot listen on " + address + ": " + ec.message());
  }
  listener->port_ = acceptor.local_endpoint().port();
  return listener;
}

void Listener::start() {
  asio::post(context_, [self = shared_from_this()] { self->accept_next(); });
}

void Listener::stop() {
  asio::post(context_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void Listener::accept_next() {
  acceptor_.async_accept(asio::make_strand(context_),
                         [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
                           if (!self->acceptor_.is_open()) return;
                           if (!ec) {
                             socket.set_option(tcp::no_delay(true), ec);
                             self->handler_(std::move(socket));
                           }
                           self->accept_next();
                         });
}

}  // namespace ballast::net
