#include "net/listener.h"

#include <malloc.h>

#include <algorithm>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "core/net_address.h"

namespace ballast::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::chrono::milliseconds accept_backoff(unsigned failures) {
  constexpr std::chrono::milliseconds kFirst{10};
  constexpr std::chrono::milliseconds kMost{1'000};
  if (failures == 0) return std::chrono::milliseconds::zero();
  return std::min(kMost, kFirst * (int64_t{1} << std::min(failures - 1, 10U)));
}

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    release();
    count_ = std::move(other.count_);
  }
  return *this;
}

void ConnectionSlot::release() {
  if (!count_) return;
  if (count_->live.fetch_sub(1) == 1) malloc_trim(0);
  count_.reset();
}

Listener::Listener(asio::io_context& context, std::string address, size_t max_connections, Handler handler)
    : context_(context),
      strand_(asio::make_strand(context)),
      acceptor_(context),
      retry_timer_(strand_),
      address_(std::move(address)),
      max_connections_(max_connections),
      handler_(std::move(handler)) {}

Result<std::shared_ptr<Listener>> Listener::bind(asio::io_context& context, const std::string& address,
                                                 size_t max_connections, Handler handler) {
  if (max_connections == 0) return invalid_argument("the connection limit of " + address + " must be positive");
  auto host_port = parse_host_port(address);
  if (!host_port) return host_port.error();
  boost::system::error_code ec;
  tcp::resolver resolver(context);
  const auto endpoints = resolver.resolve(host_port->host, std::to_string(host_port->port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) return io_error("cannot resolve " + address + ": " + ec.message());
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();

  auto listener = std::make_shared<Listener>(context, address, max_connections, std::move(handler));
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
  asio::post(strand_, [self = shared_from_this()] { self->accept_next(); });
}

void Listener::stop() {
  asio::post(strand_, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor_.close(ignored);
    self->retry_timer_.cancel();
  });
}

void Listener::accept_next() {
  if (!acceptor_.is_open()) return;
  // Each connection gets a strand of its own; this handler runs on the listener's.
  acceptor_.async_accept(asio::make_strand(context_),
                         asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec,
                                                                                  tcp::socket socket) {
                           self->on_accept(ec, std::move(socket));
                         }));
}

void Listener::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
  if (!acceptor_.is_open()) return;
  if (ec) return back_off(ec);
  if (failures_ > 0) log_.info("accepting again", {{"address", address_}, {"failedAccepts", failures_}});
  failures_ = 0;
  boost::system::error_code ignored;
  if (count_->live.load() >= max_connections_) {
    if (!full_) {
      log_.warn("connection limit reached, refusing new connections",
                {{"address", address_}, {"limit", static_cast<int64_t>(max_connections_)}});
    }
    full_ = true;
    socket.close(ignored);
    return accept_next();
  }
  full_ = false;
  socket.set_option(tcp::no_delay(true), ignored);
  count_->live.fetch_add(1);
  handler_(std::move(socket), ConnectionSlot(count_));
  accept_next();
}

void Listener::back_off(const boost::system::error_code& ec) {
  ++failures_;
  const auto delay = accept_backoff(failures_);
  if (failures_ == 1) {
    log_.warn("accept failed, backing off",
              {{"address", address_}, {"error", ec.message()}, {"retryInMs", static_cast<int64_t>(delay.count())}});
  }
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code wait_ec) {
    if (!wait_ec) self->accept_next();
  });
}

}  // namespace ballast::net
