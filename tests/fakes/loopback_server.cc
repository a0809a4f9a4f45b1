#include "fakes/loopback_server.h"

#include <sys/socket.h>

#include <atomic>
#include <list>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace ballast::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct LoopbackServer::Impl {
  struct Connection {
    std::thread thread;
    int fd = -1;  // -1 once closed; guarded by conn_mu, so stop() never shuts a reused fd
    std::atomic<bool> done{false};
  };

  Impl(std::string server_name, Serve serve_connection)
      : name(std::move(server_name)), serve(std::move(serve_connection)) {}

  void accept_loop() {
    while (!stopping) {
      tcp::socket socket(ioc);
      boost::system::error_code ec;
      acceptor->accept(socket, ec);
      if (ec || stopping) break;
      socket.set_option(tcp::no_delay(true), ec);
      auto connection = std::make_unique<Connection>();
      connection->fd = socket.native_handle();
      Connection* raw = connection.get();
      std::lock_guard lock(conn_mu);
      reap_finished();
      raw->thread = std::thread([this, raw, s = std::move(socket)]() mutable {
        const bool abrupt = serve(s);
        close(s, *raw, abrupt);
      });
      connections.push_back(std::move(connection));
    }
  }

  void reap_finished() {  // conn_mu held
    for (auto it = connections.begin(); it != connections.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = connections.erase(it);
      } else {
        ++it;
      }
    }
  }

  void close(tcp::socket& socket, Connection& connection, bool abrupt) {
    std::lock_guard lock(conn_mu);
    boost::system::error_code ignored;
    if (abrupt) ::shutdown(socket.native_handle(), SHUT_RDWR);
    else socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
    connection.fd = -1;
    connection.done = true;
  }

  const std::string name;
  const Serve serve;
  asio::io_context ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  uint16_t port = 0;
  std::atomic<bool> stopping{false};
  bool running = false;
  std::thread accept_thread;
  std::mutex conn_mu;
  std::list<std::unique_ptr<Connection>> connections;
};

LoopbackServer::LoopbackServer(std::string name, Serve serve)
    : impl_(std::make_unique<Impl>(std::move(name), std::move(serve))) {}

LoopbackServer::~LoopbackServer() { stop(); }

void LoopbackServer::start() {
  Impl& s = *impl_;
  if (s.running) return;
  s.acceptor = std::make_unique<tcp::acceptor>(s.ioc);
  boost::system::error_code ec;
  // A restart takes the port of the first start again, so clients configured with it
  // see connection refused while stopped, then the server back.
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), s.port);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error(s.name + ": cannot listen on 127.0.0.1:" + std::to_string(s.port) + ": " + ec.message());
  }
  s.port = s.acceptor->local_endpoint().port();
  s.stopping = false;
  s.running = true;
  s.accept_thread = std::thread([&s] { s.accept_loop(); });
}

void LoopbackServer::stop() {
  Impl& s = *impl_;
  if (!s.running) return;
  s.stopping = true;
  ::shutdown(s.acceptor->native_handle(), SHUT_RDWR);
  s.accept_thread.join();
  std::list<std::unique_ptr<Impl::Connection>> connections;
  {
    std::lock_guard lock(s.conn_mu);
    for (const auto& connection : s.connections) {
      if (connection->fd >= 0) ::shutdown(connection->fd, SHUT_RDWR);
    }
    connections.swap(s.connections);
  }
  for (auto& connection : connections) connection->thread.join();
  boost::system::error_code ignored;
  s.acceptor->close(ignored);
  s.acceptor.reset();
  s.running = false;
}

uint16_t LoopbackServer::port() const { return impl_->port; }

}  // namespace ballast::testing
